namespace FleetAspire.Agents.Apis;

/// <summary>How the owner's tooling reaches the agent's machine. The only response that holds the sharedKey.</summary>
public sealed record ConnectionInfoResponse(string Ipv4, int Port, string SharedKey);
