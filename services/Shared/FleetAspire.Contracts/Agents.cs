// MassTransit identifies a message by its full type name: these namespaces and names are a wire contract.
namespace FleetAspire.Contracts.Agents;

/// <summary>
/// An owner asked to delete an agent that holds a machine. The snapshots service takes the final snapshot first; the
/// agent is released and deleted when <see cref="Snapshots.FinalSnapshotTaken"/> arrives.
/// </summary>
public sealed record AgentDeletionRequested
{
    public required string AgentId { get; init; }
    public required string UserId { get; init; }
    public required string MachineId { get; init; }
    public required string MachineType { get; init; }
    public required DateTimeOffset RequestedAt { get; init; }
}
