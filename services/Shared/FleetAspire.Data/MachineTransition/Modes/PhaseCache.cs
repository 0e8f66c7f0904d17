using FleetAspire.Data.MachineTransition.Phases;

namespace FleetAspire.Data.MachineTransition.Modes;

/// <summary>
/// This instance's copy of the stored phase, refreshed by <see cref="PhaseWatcher"/> every
/// <see cref="TransitionOptions.PollInterval"/> and on demand when a write finds a newer epoch under its lock.
/// </summary>
public sealed class PhaseCache
{
    private PhaseState? _current;

    public PhaseState Current => Volatile.Read(ref _current)
        ?? throw new InvalidOperationException("The phase has not been read yet: the transition watcher starts before the service serves.");

    public bool IsLoaded => Volatile.Read(ref _current) is not null;

    /// <summary>Takes a state read from the database unless it is older than the one held.</summary>
    public void Update(PhaseState state)
    {
        while (true)
        {
            var held = Volatile.Read(ref _current);
            if (held is not null && held.Epoch >= state.Epoch)
            {
                return;
            }

            if (Interlocked.CompareExchange(ref _current, state, held) == held)
            {
                return;
            }
        }
    }
}
