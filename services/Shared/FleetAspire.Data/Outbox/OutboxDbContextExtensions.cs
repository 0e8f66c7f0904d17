namespace FleetAspire.Data.Outbox;

public static class OutboxDbContextExtensions
{
    /// <summary>Adds an event to the context; it commits (or not) with the state change in the same SaveChanges/transaction.</summary>
    public static void Enqueue<T>(this FleetDbContext db, string aggregateId, T message) where T : class =>
        db.OutboxMessages.Add(OutboxSerializer.ToRow(aggregateId, message));
}
