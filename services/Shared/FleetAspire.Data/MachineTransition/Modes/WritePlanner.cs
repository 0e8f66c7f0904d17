using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Storage;

namespace FleetAspire.Data.MachineTransition.Modes;

/// <summary>
/// Plans a unit of work's writes: picks the storage the phase names authoritative for writes (legacy fields while they
/// are written, else Machine) at the unit's first storage call, and keeps that plan on the unit's DbContext until the
/// unit ends, so the epoch fence can tell when the phase moved under it (<see cref="TransitionWriteInterceptor"/>
/// refuses such a transaction before anything is written; <see cref="PhaseRetryingExecutionStrategy"/> runs the unit
/// once more, planned again).
/// </summary>
public sealed class WritePlanner(TransitionModeResolver modes, FleetDbContext db, TransitionWriteInterceptor fence)
{
    /// <summary>The side of <paramref name="sides"/> this unit writes.</summary>
    /// <param name="writes">
    /// Whether the call writes. A write outside a unit of work is a programming error (it could neither be checked
    /// against its plan nor retried); a read outside one is answered from the current mode and plans nothing.
    /// </param>
    public async Task<TStorage> SideAsync<TStorage>(IStorageSides<TStorage> sides, bool writes) where TStorage : class =>
        (await ModeAsync(writes)).WriteLegacy ? sides.Legacy : sides.Machine;

    /// <summary>The mode this unit writes in, planned now if it has no plan yet.</summary>
    public async Task<TransitionMode> ModeAsync(bool writes = true)
    {
        if (db.PlannedWriteMode is { } planned)
        {
            return planned;
        }

        if (!db.InWriteUnit)
        {
            return writes
                ? throw new InvalidOperationException(
                    "A machine write ran outside a unit of work: run it inside db.Database.CreateExecutionStrategy().ExecuteAsync(…).")
                : await modes.CurrentAsync();
        }

        // Inside a transaction the phase cannot move (the fence holds the phase lock shared): plan by the epoch it
        // locked. Before one, by this instance's copy of the phase; the fence compares when the transaction starts.
        var mode = db.Database.CurrentTransaction?.GetDbTransaction() is { } transaction && fence.ModeOf(transaction) is { } fenced
            ? fenced
            : await modes.CurrentAsync();
        if (mode.WriteLegacy && !db.MapsLegacy)
        {
            // The context was built in MachineOnly (steady-state model) and the fleet has rolled back since: it cannot
            // write legacy rows. Only a request that straddled that flip gets here; it is answered 503 + Retry-After.
            throw new PhaseChangedException(mode.Epoch - 1, mode.Epoch);
        }

        db.PlannedWriteMode = mode;
        if (mode.WriteLegacy)
        {
            modes.LegacyWritePlanned();
        }

        Shadow.ShadowTelemetry.TagRequest(mode, Shadow.ShadowTelemetry.WriteSideTag,
            mode.WriteLegacy ? Shadow.ShadowTelemetry.LegacySide : Shadow.ShadowTelemetry.MachineSide);
        return mode;
    }
}
