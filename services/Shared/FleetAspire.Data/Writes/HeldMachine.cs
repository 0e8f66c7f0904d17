namespace FleetAspire.Data.Writes;

/// <summary>
/// The machine an agent holds, by the ids events, clients and machines use in every phase: the provider's server id
/// (hetzner) or the custom machine id (custom). <see cref="MachineRef"/> is the Machine row, when Machine is written.
/// </summary>
public sealed record HeldMachine(string MachineId, string MachineType, string? Ipv4, string? MachineRef);
