using MassTransit;

namespace FleetAspire.Messaging;

/// <summary>The retry policies consumer definitions choose from, so the fleet retries consistently.</summary>
public static class ConsumerRetry
{
    /// <summary>
    /// For consumers whose work is database writes: 8 tries, exponential from 200 ms to 30 s, which rides out a
    /// database restart or failover before the message goes to the error queue.
    /// </summary>
    public static void Database(IRetryConfigurator retry) =>
        retry.Exponential(8, TimeSpan.FromMilliseconds(200), TimeSpan.FromSeconds(30), TimeSpan.FromMilliseconds(200));

    /// <summary>
    /// For consumers that call the cloud provider: 10 tries, exponential from 500 ms to 2 min, which outlasts the
    /// provider's rate-limit windows.
    /// </summary>
    public static void CloudProvider(IRetryConfigurator retry) =>
        retry.Exponential(10, TimeSpan.FromMilliseconds(500), TimeSpan.FromMinutes(2), TimeSpan.FromSeconds(1));
}
