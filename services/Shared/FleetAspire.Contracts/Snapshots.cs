// MassTransit identifies a message by its full type name: these namespaces and names are a wire contract.
namespace FleetAspire.Contracts.Snapshots;

/// <summary>
/// The final snapshot of a deleted agent's machine exists (or was not possible: <see cref="SnapshotId"/> is null and
/// <see cref="SkippedReason"/> says why). The agent may now be released and deleted.
/// </summary>
public sealed record FinalSnapshotTaken
{
    public required string AgentId { get; init; }
    public required string MachineId { get; init; }
    public string? SnapshotId { get; init; }
    public string? SkippedReason { get; init; }
    public required DateTimeOffset TakenAt { get; init; }
}
