namespace FleetAspire.Snapshots.Application;

public enum SnapshotOutcome
{
    Ok,
    AgentNotFound,
    NoMachine,
    NotSnapshottable,
    NotFound,
    /// <summary>A snapshot still being created cannot be deleted yet (its image does not exist), or was deleted while it was.</summary>
    Busy,
}
