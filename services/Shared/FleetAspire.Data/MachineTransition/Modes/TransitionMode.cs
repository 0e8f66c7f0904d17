using FleetAspire.Data.MachineTransition.Phases;

namespace FleetAspire.Data.MachineTransition.Modes;

/// <summary>How this instance stores and reads machine data at one epoch.</summary>
public sealed record TransitionMode(TransitionPhase Phase, long Epoch, bool WriteLegacy, bool WriteMachine, bool ReadMachine);

/// <summary>
/// The phase changed between planning a write and committing it in a way the write cannot absorb: the request is
/// answered 503 with Retry-After and the client retries under the new phase. A <see cref="TimeoutException"/> so
/// every service's outage handler already answers it that way, without the data layer knowing about HTTP.
/// </summary>
public sealed class PhaseChangedException(long planned, long current)
    : TimeoutException($"The migration phase moved from epoch {planned} to {current} while the write was planned.")
{
    public long Planned { get; } = planned;
    public long Current { get; } = current;

    /// <summary>Whether <paramref name="exception"/> or one it wraps is a phase change.</summary>
    public static bool In(Exception exception)
    {
        for (Exception? e = exception; e is not null; e = e.InnerException)
        {
            if (e is PhaseChangedException)
            {
                return true;
            }
        }

        return false;
    }
}
