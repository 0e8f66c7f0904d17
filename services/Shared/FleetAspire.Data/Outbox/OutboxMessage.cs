namespace FleetAspire.Data.Outbox;

/// <summary>
/// An event written in the same transaction as the state change that caused it; a dispatcher publishes it later.
/// Payloads are contract records, which never carry a sharedKey.
/// </summary>
public class OutboxMessage
{
    public long Id { get; set; }
    public Guid MessageId { get; set; }
    /// <summary>Messages of one aggregate are published in <see cref="Id"/> order.</summary>
    public required string AggregateId { get; set; }
    /// <summary>Full CLR name of the contract type (MassTransit identifies messages by it).</summary>
    public required string MessageType { get; set; }
    public required string Payload { get; set; }
    /// <summary>W3C traceparent of the request that wrote it, so the consumer joins the same trace.</summary>
    public string? TraceParent { get; set; }
    public DateTimeOffset CreatedAt { get; set; }
    public DateTimeOffset? SentAt { get; set; }
    public int Attempts { get; set; }
    public string? LastError { get; set; }
    /// <summary>
    /// Set when the row cannot be read (unknown type, a payload its type does not fit) after
    /// <c>Outbox:PoisonAfterAttempts</c> tries: parked rows are skipped, so one bad row never stops every later event.
    /// </summary>
    public DateTimeOffset? ParkedAt { get; set; }
}
