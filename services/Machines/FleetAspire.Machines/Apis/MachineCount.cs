namespace FleetAspire.Machines.Apis;

public sealed record MachineCount(string Type, string Status, long Count);
