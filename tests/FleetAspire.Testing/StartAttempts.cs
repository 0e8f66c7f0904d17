namespace FleetAspire.Testing;

/// <summary>
/// Starting a throwaway server is retried: every test class of a process shares the one server, so a single transient
/// failure while starting it (a port another process took between choosing and binding it, a boot slower than the
/// wait on a loaded machine) would otherwise fail the whole suite at once. Each attempt starts afresh (new port, new
/// directory); what failed is written to the test output.
/// </summary>
public static class StartAttempts
{
    public static async Task<T> RunAsync<T>(string what, Func<Task<T>> start, int attempts = 3)
    {
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                return await start();
            }
            catch (Exception ex) when (attempt < attempts)
            {
                await Console.Error.WriteLineAsync($"{what}: start attempt {attempt} of {attempts} failed ({ex.GetType().Name}: {ex.Message}); trying again");
            }
        }
    }
}
