using Microsoft.EntityFrameworkCore;

namespace FleetAspire.Data.MachineTransition.Modes;

/// <summary>
/// Plans a write: picks the storage the current phase names authoritative for writes (legacy fields while they are
/// written, else Machine) and records the plan on the request's DbContext, so the epoch fence can tell when the phase
/// moved between planning and the transaction (<see cref="TransitionWriteInterceptor"/> refuses it before anything
/// is written). Such a write is planned again from the phase the fence re-read and retried once; a second refusal
/// reaches the caller as <see cref="PhaseChangedException"/> (503 with Retry-After).
/// </summary>
public sealed class WritePlanner(TransitionModeResolver modes, FleetDbContext db)
{
    public async Task<T> RunAsync<T>(Func<TransitionMode, Task<T>> write)
    {
        try
        {
            return await write(await PlanAsync());
        }
        // EF's execution strategy may wrap it ("likely due to a transient failure"): look down the chain.
        catch (Exception ex) when (PhaseChangedException.In(ex))
        {
            db.ChangeTracker.Clear();
            await db.Database.CloseConnectionAsync();
            return await write(await PlanAsync());
        }
        finally
        {
            // The plan covers this write's transactions only, never a later one of the same context.
            db.PlannedWriteMode = null;
        }
    }

    private async Task<TransitionMode> PlanAsync()
    {
        var mode = await modes.CurrentAsync();
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
