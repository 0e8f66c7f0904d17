namespace FleetAspire.Agents.Application;

public enum DeleteOutcome
{
    NotFound,
    /// <summary>The agent had no machine and is gone.</summary>
    Deleted,
    /// <summary>The agent holds a machine: its final snapshot is being taken; release and deletion follow.</summary>
    Accepted,
}
