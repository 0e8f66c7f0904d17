namespace FleetAspire.Machines.Application;

public sealed record UpdateCustomMachine(string? Ipv4, int? Port, string? SharedKey, string? Os, string? Arch, int? CpuCount, int? MemoryGb);
