namespace FleetAspire.Agents.Application;

/// <summary>What a claim statement returns about the pool machine it just moved onto an agent.</summary>
public sealed record ClaimedMachine(string AgentId, string MachineId, string ProviderId, string? Ipv4);
