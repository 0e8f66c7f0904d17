namespace FleetAspire.Machines.Apis;

public sealed record RegisterCustomMachineRequest(string? Ipv4, int? Port, string? SharedKey, string? Os, string? Arch, int? CpuCount, int? MemoryGb);
