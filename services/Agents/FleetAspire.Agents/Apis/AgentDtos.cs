using FleetAspire.Data.Entities;

namespace FleetAspire.Agents.Apis;

public sealed record CreateAgentRequest(string? Name);

/// <summary>
/// The agent as clients see it. Never carries the sharedKey: that is only in <see cref="ConnectionInfoResponse"/>.
/// </summary>
public sealed record AgentResponse(
    string Id,
    string Name,
    string UserId,
    string Status,
    string? MachineId,
    string? MachineIpv4,
    string? MachineType,
    DateTimeOffset CreatedAt,
    DateTimeOffset UpdatedAt)
{
    public static AgentResponse From(Agent a) =>
        new(a.Id, a.Name, a.UserId, a.Status, a.MachineId, a.MachineIpv4, a.MachineType, a.CreatedAt, a.UpdatedAt);
}

/// <summary>How the owner's tooling reaches the agent's machine. The only response that holds the sharedKey.</summary>
public sealed record ConnectionInfoResponse(string Ipv4, int Port, string SharedKey);

public sealed record PageResponse<T>(IReadOnlyList<T> Items, string? NextCursor);
