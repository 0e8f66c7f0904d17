namespace FleetAspire.Agents.Apis;

/// <summary>The machine an agent holds. <c>Id</c> is the Machine id; <c>ProviderId</c> the cloud server id (pool machines).</summary>
public sealed record AgentMachineResponse(string? Id, string? Type, string? ProviderId, string? Ipv4, int Port, string Status);
