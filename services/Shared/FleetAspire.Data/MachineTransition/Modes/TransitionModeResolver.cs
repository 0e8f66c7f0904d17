using FleetAspire.Data.MachineTransition.Phases;
using Microsoft.FeatureManagement;

namespace FleetAspire.Data.MachineTransition.Modes;

/// <summary>
/// The one place in a service that decides how machine data is stored and read. It evaluates the storage flags
/// (fed from the stored phase) and pairs them with the epoch they were derived from; nothing else reads the phase.
/// </summary>
public sealed class TransitionModeResolver(PhaseCache cache, IFeatureManager features, PhaseStore store, TransitionUsage usage)
{
    private TransitionMode? _memo;

    /// <summary>
    /// The mode as this instance last saw the stored phase (at most one poll interval old). The flags depend on the
    /// phase alone, so they are evaluated once per epoch and the result reused until the epoch moves.
    /// </summary>
    public async Task<TransitionMode> CurrentAsync()
    {
        if (!cache.IsLoaded)
        {
            // A consumer may run before the watcher's first read: read the stored phase now.
            cache.Update(await store.ReadAsync(CancellationToken.None));
        }

        while (true)
        {
            var state = cache.Current;
            if (Volatile.Read(ref _memo) is { } memo && memo.Epoch == state.Epoch)
            {
                return memo;
            }

            var mode = new TransitionMode(state.Phase, state.Epoch,
                await features.IsEnabledAsync(PhaseRules.Flags.WriteLegacy),
                await features.IsEnabledAsync(PhaseRules.Flags.WriteMachine),
                await features.IsEnabledAsync(PhaseRules.Flags.ReadMachine));
            // The flags came from the same state only if it did not move while they were evaluated.
            if (cache.Current.Epoch == state.Epoch)
            {
                Volatile.Write(ref _memo, mode);
                return mode;
            }
        }
    }

    /// <summary>
    /// The mode for a read: the request's span is tagged with the phase and the side that serves it; a read served by
    /// legacy is recorded as a legacy code path.
    /// </summary>
    public async Task<TransitionMode> ForReadAsync()
    {
        var mode = await CurrentAsync();
        Shadow.ShadowTelemetry.TagRequest(mode, Shadow.ShadowTelemetry.ReadSideTag,
            mode.ReadMachine ? Shadow.ShadowTelemetry.MachineSide : Shadow.ShadowTelemetry.LegacySide);
        if (!mode.ReadMachine)
        {
            usage.LegacyPathUsed("read");
        }

        return mode;
    }

    /// <summary>The mode for a read (<see cref="ForReadAsync"/>) and the side of a read decorator it names.</summary>
    public async Task<(TransitionMode Mode, TReads Side)> ReadSideAsync<TReads>(TReads machine, TReads legacy)
    {
        var mode = await ForReadAsync();
        return (mode, mode.ReadMachine ? machine : legacy);
    }

    /// <summary>A write planned for the legacy fields: recorded as a legacy code path.</summary>
    internal void LegacyWritePlanned() => usage.LegacyPathUsed("write");

    /// <summary>The stored phase re-read now, not at the next poll: a fence has just refused a write for a moved phase.</summary>
    public async Task<TransitionMode> RefreshAsync(CancellationToken cancellationToken)
    {
        cache.Update(await store.ReadAsync(cancellationToken));
        return await CurrentAsync();
    }

    /// <summary>
    /// The mode of the epoch a write holds the phase lock for. When it is newer than this instance's copy, the stored
    /// phase is re-read from the database (bypassing the cached flags) before deciding.
    /// </summary>
    public async Task<TransitionMode> ForLockedEpochAsync(long lockedEpoch, CancellationToken cancellationToken)
    {
        var mode = await CurrentAsync();
        if (mode.Epoch == lockedEpoch)
        {
            return mode;
        }

        mode = await RefreshAsync(cancellationToken);
        return mode.Epoch == lockedEpoch ? mode : throw new PhaseChangedException(mode.Epoch, lockedEpoch);
    }
}
