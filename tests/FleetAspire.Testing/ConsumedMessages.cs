using System.Collections.Concurrent;
using MassTransit;

namespace FleetAspire.Testing;

/// <summary>
/// Records every message a service's bus finished consuming (successfully or not), so a test can wait for a
/// delivery instead of sleeping. Attach with <see cref="AttachTo"/>.
/// </summary>
public sealed class ConsumedMessages : IConsumeObserver
{
    private readonly ConcurrentQueue<(Guid? MessageId, Type Type, bool Faulted)> _consumed = new();

    public static ConsumedMessages AttachTo(IServiceProvider services)
    {
        var observer = new ConsumedMessages();
        ((IBus)services.GetService(typeof(IBus))!).ConnectConsumeObserver(observer);
        return observer;
    }

    public int Count<T>(Guid messageId, bool faulted = false) =>
        _consumed.Count(c => c.MessageId == messageId && c.Type == typeof(T) && c.Faulted == faulted);

    public Task PreConsume<T>(ConsumeContext<T> context) where T : class => Task.CompletedTask;

    public Task PostConsume<T>(ConsumeContext<T> context) where T : class
    {
        _consumed.Enqueue((context.MessageId, typeof(T), false));
        return Task.CompletedTask;
    }

    public Task ConsumeFault<T>(ConsumeContext<T> context, Exception exception) where T : class
    {
        _consumed.Enqueue((context.MessageId, typeof(T), true));
        return Task.CompletedTask;
    }
}
