namespace FleetAspire.Machines.Application;

/// <summary>A custom machine as the API shows it, whichever representation it was read from. Ids are the custom machine ids clients know.</summary>
public sealed record CustomMachineView(
    string Id, string Ipv4, int Port, string UserId, string? CurrentAgentId, string? Os, string? Arch, int? CpuCount, int? MemoryGb,
    string SharedKey, DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt);
