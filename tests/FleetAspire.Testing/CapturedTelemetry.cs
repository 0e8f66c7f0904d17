using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text;
using MassTransit;
using Microsoft.Extensions.DependencyInjection;
using OpenTelemetry.Logs;
using OpenTelemetry.Metrics;
using OpenTelemetry.Trace;

namespace FleetAspire.Testing;

/// <summary>
/// Everything the services export during a test — spans, log records, metrics — through the same OpenTelemetry
/// pipelines ServiceDefaults configures (in-memory exporters added beside OTLP), plus the raw bodies of every
/// message the buses receive.
/// </summary>
public sealed class CapturedTelemetry
{
    public LockedList<Activity> Spans { get; } = new();
    public LockedList<LogRecord> Logs { get; } = new();
    public LockedList<Metric> Metrics { get; } = new();
    public ConcurrentQueue<string> MessageBodies { get; } = new();

    public void AddTo(IServiceCollection services)
    {
        services.ConfigureOpenTelemetryTracerProvider(t => t.AddInMemoryExporter(Spans));
        services.ConfigureOpenTelemetryLoggerProvider(l => l.AddInMemoryExporter(Logs));
        services.ConfigureOpenTelemetryMeterProvider(m => m.AddInMemoryExporter(Metrics));
        services.AddSingleton<IReceiveObserver>(new BodyRecorder(MessageBodies));
    }

    /// <summary>Every string the telemetry carries: span names, tags, events, log messages and attributes, metric tags.</summary>
    public IReadOnlyList<string> AllText()
    {
        var text = new List<string>();
        foreach (var span in Spans.Snapshot())
        {
            text.Add(span.DisplayName);
            text.AddRange(span.TagObjects.Select(t => $"{t.Key}={t.Value}"));
            text.AddRange(span.Events.SelectMany(e => e.Tags.Select(t => $"{e.Name}:{t.Key}={t.Value}").Append(e.Name)));
            text.AddRange(span.Baggage.Select(b => $"{b.Key}={b.Value}"));
        }

        foreach (var log in Logs.Snapshot())
        {
            text.Add(log.FormattedMessage ?? string.Empty);
            text.Add(log.Body ?? string.Empty);
            text.Add(log.Exception?.ToString() ?? string.Empty);
            text.AddRange((log.Attributes ?? []).Select(a => $"{a.Key}={a.Value}"));
        }

        foreach (var metric in Metrics.Snapshot())
        {
            text.Add(metric.Name);
            foreach (ref readonly var point in metric.GetMetricPoints())
            {
                foreach (var tag in point.Tags)
                {
                    text.Add($"{tag.Key}={tag.Value}");
                }
            }
        }

        text.AddRange(MessageBodies);
        return text;
    }

    private sealed class BodyRecorder(ConcurrentQueue<string> bodies) : IReceiveObserver
    {
        public Task PreReceive(ReceiveContext context)
        {
            bodies.Enqueue(Encoding.UTF8.GetString(context.Body.GetBytes()));
            return Task.CompletedTask;
        }

        public Task PostReceive(ReceiveContext context) => Task.CompletedTask;

        public Task PostConsume<T>(ConsumeContext<T> context, TimeSpan duration, string consumerType) where T : class => Task.CompletedTask;

        public Task ConsumeFault<T>(ConsumeContext<T> context, TimeSpan duration, string consumerType, Exception exception) where T : class => Task.CompletedTask;

        public Task ReceiveFault(ReceiveContext context, Exception exception) => Task.CompletedTask;
    }
}

/// <summary>A collection the exporters append to from their threads while a test reads a snapshot of it.</summary>
public sealed class LockedList<T> : ICollection<T>
{
    private readonly List<T> _items = [];

    public int Count
    {
        get
        {
            lock (_items)
            {
                return _items.Count;
            }
        }
    }

    public bool IsReadOnly => false;

    public T[] Snapshot()
    {
        lock (_items)
        {
            return [.. _items];
        }
    }

    public void Add(T item)
    {
        lock (_items)
        {
            _items.Add(item);
        }
    }

    public void Clear()
    {
        lock (_items)
        {
            _items.Clear();
        }
    }

    public bool Contains(T item)
    {
        lock (_items)
        {
            return _items.Contains(item);
        }
    }

    public void CopyTo(T[] array, int arrayIndex)
    {
        lock (_items)
        {
            _items.CopyTo(array, arrayIndex);
        }
    }

    public bool Remove(T item)
    {
        lock (_items)
        {
            return _items.Remove(item);
        }
    }

    public IEnumerator<T> GetEnumerator() => ((IEnumerable<T>)Snapshot()).GetEnumerator();

    System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() => GetEnumerator();
}
