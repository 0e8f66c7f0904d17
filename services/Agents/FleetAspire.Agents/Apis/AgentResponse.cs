using FleetAspire.Agents.Application;
using FleetAspire.Data.Entities;

namespace FleetAspire.Agents.Apis;

/// <summary>
/// The agent as clients see it, the same shape in every migration phase. Never carries the sharedKey: that is only in
/// <see cref="ConnectionInfoResponse"/>. <c>machineId</c>, <c>machineIpv4</c> and <c>machineType</c> keep their old
/// meaning (provider id or custom machine id) for old clients, with values from the authoritative side; new clients
/// read <see cref="Machine"/> (the README says which fields to move off).
/// </summary>
public sealed record AgentResponse(
    string Id,
    string Name,
    string UserId,
    string Status,
    string? MachineId,
    string? MachineIpv4,
    string? MachineType,
    AgentMachineResponse? Machine,
    DateTimeOffset CreatedAt,
    DateTimeOffset UpdatedAt)
{
    public static AgentResponse From(Agent a, AgentMachine? m) =>
        new(a.Id, a.Name, a.UserId, a.Status, m?.LegacyId, m?.Ipv4, m?.Type,
            m is null ? null : new AgentMachineResponse(m.Id, m.Type, m.ProviderId, m.Ipv4, m.Port, m.Status),
            a.CreatedAt, a.UpdatedAt);
}
