namespace FleetAspire.Messaging;

/// <summary>A parked outbox row as operators see it (payloads are contract records: they never carry a sharedKey).</summary>
public sealed record ParkedMessage(long Id, Guid MessageId, string MessageType, string AggregateId, string Payload, int Attempts,
    string? LastError, DateTimeOffset CreatedAt, DateTimeOffset ParkedAt);
