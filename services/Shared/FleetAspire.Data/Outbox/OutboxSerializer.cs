using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text.Json;

namespace FleetAspire.Data.Outbox;

/// <summary>How contract records become outbox rows and back.</summary>
public static class OutboxSerializer
{
    public static readonly JsonSerializerOptions Options = new(JsonSerializerDefaults.Web);
    private static readonly ConcurrentDictionary<string, Type> Types = new();

    public static OutboxMessage ToRow<T>(string aggregateId, T message) where T : class => new()
    {
        MessageId = Guid.CreateVersion7(),
        AggregateId = aggregateId,
        MessageType = typeof(T).FullName!,
        Payload = JsonSerializer.Serialize(message, Options),
        TraceParent = Activity.Current?.Id,
        CreatedAt = DateTimeOffset.UtcNow,
    };

    /// <summary>Contracts live in one assembly (FleetAspire.Contracts); the row stores the full type name.</summary>
    public static Type ResolveType(string fullName) => Types.GetOrAdd(fullName, static name =>
        Type.GetType($"{name}, FleetAspire.Contracts", throwOnError: true)!);
}
