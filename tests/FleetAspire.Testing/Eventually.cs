namespace FleetAspire.Testing;

/// <summary>Polling with a deadline: the only way tests wait for something asynchronous (never a bare sleep).</summary>
public static class Eventually
{
    private static readonly TimeSpan Interval = TimeSpan.FromMilliseconds(50);

    /// <summary>Retries <paramref name="action"/> until it does not throw; rethrows the last failure after the deadline.</summary>
    public static async Task SucceedsAsync(Func<Task> action, TimeSpan timeout, string because)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            try
            {
                await action();
                return;
            }
            catch (Exception) when (DateTime.UtcNow < deadline)
            {
                await Task.Delay(Interval);
            }
            catch (Exception ex)
            {
                throw new TimeoutException($"{because} within {timeout.TotalSeconds:0.#} s", ex);
            }
        }
    }

    /// <summary>Polls <paramref name="probe"/> until it returns true; fails with <paramref name="because"/> after the deadline.</summary>
    public static Task TrueAsync(Func<Task<bool>> probe, TimeSpan timeout, string because) =>
        TrueAsync(probe, timeout, () => because);

    /// <summary>As above; <paramref name="because"/> is asked at the deadline, so it can say what the probe saw last.</summary>
    public static async Task TrueAsync(Func<Task<bool>> probe, TimeSpan timeout, Func<string> because)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (!await probe())
        {
            if (DateTime.UtcNow >= deadline)
            {
                throw new TimeoutException($"{because()} within {timeout.TotalSeconds:0.#} s");
            }

            await Task.Delay(Interval);
        }
    }
}
