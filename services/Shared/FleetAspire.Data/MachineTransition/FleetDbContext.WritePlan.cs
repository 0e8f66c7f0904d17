using FleetAspire.Data.MachineTransition.Modes;

namespace FleetAspire.Data;

public partial class FleetDbContext
{
    /// <summary>
    /// The mode the next write transaction was planned in (<see cref="WritePlanner"/>); the epoch fence consumes it
    /// when the transaction starts. Not mapped: transition state of this context only.
    /// </summary>
    internal TransitionMode? PlannedWriteMode { get; set; }

    internal TransitionMode? TakePlannedWriteMode()
    {
        var planned = PlannedWriteMode;
        PlannedWriteMode = null;
        return planned;
    }
}
