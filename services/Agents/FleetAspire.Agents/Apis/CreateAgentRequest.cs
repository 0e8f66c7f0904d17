namespace FleetAspire.Agents.Apis;

public sealed record CreateAgentRequest(string? Name);
