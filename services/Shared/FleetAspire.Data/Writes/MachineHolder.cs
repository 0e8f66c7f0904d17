namespace FleetAspire.Data.Writes;

/// <summary>An agent and the machine it holds; <see cref="SharedKey"/> is a secret, used for signature checks only.</summary>
public sealed record MachineHolder(string AgentId, string MachineId, string? MachineRef, string SharedKey);
