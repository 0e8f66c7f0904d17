namespace FleetAspire.Data;

/// <summary>
/// Growing pauses for a background loop whose iteration failed — 0.5 s doubling to 30 s, back to the start after a
/// success. Every loop of the fleet catches what an iteration throws (a database away, data it did not expect), logs
/// it, waits this long and goes on: no background loop stops its host.
/// </summary>
public sealed class Backoff
{
    private static readonly TimeSpan First = TimeSpan.FromMilliseconds(500);
    private static readonly TimeSpan Max = TimeSpan.FromSeconds(30);
    private TimeSpan _next = First;

    /// <summary>The pause to wait now; the one after it is twice as long.</summary>
    public TimeSpan Next()
    {
        var pause = _next;
        _next = TimeSpan.FromTicks(Math.Min(_next.Ticks * 2, Max.Ticks));
        return pause;
    }

    public void Reset() => _next = First;

    /// <summary>Whether a loop should treat <paramref name="exception"/> as a failed iteration (anything but its own stop).</summary>
    public static bool IsIterationFailure(Exception exception, CancellationToken stoppingToken) =>
        exception is not OperationCanceledException || !stoppingToken.IsCancellationRequested;
}
