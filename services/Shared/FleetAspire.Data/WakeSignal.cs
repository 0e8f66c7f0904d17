namespace FleetAspire.Data;

/// <summary>
/// A coalescing wake-up for a background loop: many notifications before the loop wakes count as one, and the loop
/// still wakes on its own timeout when nothing notifies it (work written by other processes).
/// </summary>
public class WakeSignal
{
    private readonly SemaphoreSlim _signal = new(0, 1);

    public void Notify()
    {
        try
        {
            _signal.Release();
        }
        catch (SemaphoreFullException)
        {
            // Already signalled: one wake-up covers every notification before it is handled.
        }
    }

    /// <summary>Returns after a notification, the timeout or cancellation, whichever comes first.</summary>
    public Task WaitAsync(TimeSpan timeout, CancellationToken cancellationToken) => _signal.WaitAsync(timeout, cancellationToken);
}
