namespace FleetAspire.Messaging;

public sealed class OutboxOptions
{
    public const string Section = "Outbox";

    /// <summary>How often the dispatcher looks for rows written by other processes.</summary>
    public TimeSpan PollInterval { get; set; } = TimeSpan.FromMilliseconds(500);
    public int BatchSize { get; set; } = 100;
    /// <summary>Upper bound of the back-off while the broker refuses publishes.</summary>
    public TimeSpan MaxBackoff { get; set; } = TimeSpan.FromSeconds(30);
    public TimeSpan PublishTimeout { get; set; } = TimeSpan.FromSeconds(10);
    /// <summary>Sent rows are kept this long for diagnosis, then deleted.</summary>
    public TimeSpan SentRetention { get; set; } = TimeSpan.FromHours(24);
    /// <summary>
    /// A row that cannot be read (unknown message type, a payload that does not fit it) is parked after this many tries;
    /// delivery goes on with the rows after it. Broker failures never park a row: they stop the batch and back off.
    /// </summary>
    public int PoisonAfterAttempts { get; set; } = 5;
}
