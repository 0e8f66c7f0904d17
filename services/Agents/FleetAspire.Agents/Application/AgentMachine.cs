namespace FleetAspire.Agents.Application;

/// <summary>The machine an agent holds, as the agents API shows it, whichever representation it was read from.</summary>
/// <param name="Id">The Machine id (derived from the legacy id while the legacy fields are authoritative).</param>
/// <param name="LegacyId">What <c>machineId</c> has always meant: the provider id, or the custom machine's id.</param>
public sealed record AgentMachine(string? Id, string LegacyId, string? Type, string? ProviderId, string? Ipv4, int Port, string Status);
