using FleetAspire.Data.MachineTransition.Modes;

namespace FleetAspire.Data;

public partial class FleetDbContext
{
    /// <summary>
    /// The mode the unit of work under way was planned in (<see cref="WritePlanner"/>), for as long as it runs: the
    /// epoch fence checks every transaction the unit opens against it, not only the first — a unit that opens several
    /// (a sweep recording one check per machine) never runs a later one in a phase it was not planned for.
    /// Not mapped: transition state of this context only.
    /// </summary>
    internal TransitionMode? PlannedWriteMode { get; set; }

    /// <summary>
    /// Whether a unit of work runs on this context: an operation of its execution strategy
    /// (<see cref="PhaseRetryingExecutionStrategy"/>), the only place a write may be planned and retried.
    /// </summary>
    internal bool InWriteUnit { get; set; }
}
