using FleetAspire.Data.Writes;

namespace FleetAspire.Data.MachineTransition.Modes;

/// <summary>The two storages of one aggregate while the migration runs: legacy rows, or Machine only.</summary>
public interface IStorageSides<out TStorage> where TStorage : class
{
    TStorage Legacy { get; }
    TStorage Machine { get; }
}

/// <summary>
/// <see cref="IWrites{TStorage}"/> while the migration runs: the write planner picks the side the phase writes
/// (legacy while legacy is written, else Machine), and retries once when the phase moves under it.
/// </summary>
public sealed class PlannedWrites<TStorage>(WritePlanner planner, IStorageSides<TStorage> sides) : IWrites<TStorage> where TStorage : class
{
    public Task<T> RunAsync<T>(Func<TStorage, Task<T>> write) =>
        planner.RunAsync(mode => write(mode.WriteLegacy ? sides.Legacy : sides.Machine));
}

/// <summary>The assignment aggregate (agent ↔ machine), legacy fields or Machine relation.</summary>
public sealed class AssignmentSides(FleetDbContext db, IBatchFence fence) : IStorageSides<IAssignmentWrites>
{
    public IAssignmentWrites Legacy => new LegacyAssignmentWrites(db, fence);
    public IAssignmentWrites Machine => new MachineAssignmentWrites(db, fence);
}
