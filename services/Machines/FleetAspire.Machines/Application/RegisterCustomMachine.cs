namespace FleetAspire.Machines.Application;

public sealed record RegisterCustomMachine(string Ipv4, int Port, string SharedKey, string? Os, string? Arch, int? CpuCount, int? MemoryGb);
