using FleetAspire.Data.MachineTransition.Modes;

namespace FleetAspire.Data;

public partial class FleetDbContext
{
    /// <summary>
    /// The mode the write under way was planned in (<see cref="WritePlanner"/>), for as long as the planned write runs:
    /// the epoch fence checks every transaction the write opens against it, not only the first — a write that opens
    /// several (a sweep recording one check per machine) never runs a later one in a phase it was not planned for.
    /// Not mapped: transition state of this context only.
    /// </summary>
    internal TransitionMode? PlannedWriteMode { get; set; }
}
