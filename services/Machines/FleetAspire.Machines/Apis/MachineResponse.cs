namespace FleetAspire.Machines.Apis;

/// <summary>A unified machine as the API shows it: never the sharedKey.</summary>
public sealed record MachineResponse(
    string Id, string Type, string? HetznerMachineId, string? Name, string Ipv4, int Port, string Status, string? UserId,
    string? Os, string? Arch, int? CpuCount, int? MemoryGb, string? CurrentAgentId, DateTimeOffset LastSeenAt, DateTimeOffset CreatedAt);
