using System.Diagnostics;
using System.Net.Http.Json;
using FleetAspire.Agents.Apis;
using FleetAspire.Machines.Apis;
using FleetAspire.Snapshots.Apis;
using FleetAspire.Testing;
using Microsoft.Extensions.DependencyInjection;
using OpenTelemetry;
using OpenTelemetry.Metrics;
using OpenTelemetry.Trace;

namespace FleetAspire.Agents.Tests;

/// <summary>All four services with every exported signal captured, logging at Information and below.</summary>
public sealed class TelemetryFixture : FleetAppFixture
{
    public CapturedTelemetry Telemetry { get; } = new();

    protected override Dictionary<string, string?> Settings { get; } = new()
    {
        ["Pool:ReconcilerEnabled"] = "false",
        ["HealthChecks:SweeperEnabled"] = "false",
        ["Logging:LogLevel:Default"] = "Debug",
        ["Logging:LogLevel:MassTransit"] = "Debug",
    };

    protected override void ConfigureServices(IServiceCollection services) => Telemetry.AddTo(services);
}

public sealed class TelemetryTests(TelemetryFixture app) : IClassFixture<TelemetryFixture>
{
    [Fact]
    public async Task The_http_request_that_claims_and_the_pool_consumer_of_its_event_are_one_trace()
    {
        var agent = await app.AgentWithPoolMachineAsync("traced");
        await app.OutboxDrainedAsync();

        await Eventually.TrueAsync(() => Task.FromResult(ConsumerSpanIn(ClaimRequestTraceId(agent.Id)) is not null),
            TimeSpan.FromSeconds(20), "no MassTransit consumer span in the claim request's trace");
        var consumer = ConsumerSpanIn(ClaimRequestTraceId(agent.Id))!;
        Assert.Equal(ActivityKind.Consumer, consumer.Kind);
    }

    [Fact]
    public async Task No_shared_key_appears_in_spans_logs_metrics_outbox_rows_or_message_bodies()
    {
        var keys = new List<string>();
        // Pool machines: keys minted by the pool, copied by claims, read back as connection info.
        for (var i = 0; i < 3; i++)
        {
            var agent = await app.AgentWithPoolMachineAsync($"scan-{i}");
            using var client = app.AgentsAs(TestTokens.User($"scan-{i}"));
            keys.Add((await client.GetFromJsonAsync<ConnectionInfoResponse>($"/api/agents/{agent.Id}/connection"))!.SharedKey);
            using var snapshots = app.SnapshotsAs(TestTokens.User($"scan-{i}"));
            (await snapshots.PostAsJsonAsync("/api/snapshots", new CreateSnapshotRequest(agent.Id))).EnsureSuccessStatusCode();
            (await client.DeleteAsync($"/api/agents/{agent.Id}")).EnsureSuccessStatusCode();
        }

        // Custom machines: keys chosen by users, assigned, rotated, used to sign heartbeats.
        for (var i = 0; i < 3; i++)
        {
            var (machine, key) = await app.RegisterMachineAsync("scan-custom");
            keys.Add(key);
            var agent = await app.CreateAgentAsync("scan-custom");
            using var machines = app.MachinesAs(TestTokens.User("scan-custom"));
            (await machines.PostAsJsonAsync($"/api/machines/custom/{machine.Id}/assign", new AssignCustomMachineRequest(agent.Id))).EnsureSuccessStatusCode();
            for (var beat = 0; beat < 3; beat++)
            {
                (await app.HeartbeatAsync(machine.Id, key, "unhealthy")).EnsureSuccessStatusCode();
            }

            var rotated = $"rotated-{Guid.NewGuid():N}";
            keys.Add(rotated);
            (await machines.PatchAsJsonAsync($"/api/machines/custom/{machine.Id}", new UpdateCustomMachineRequest(null, null, rotated, null, null, null, null))).EnsureSuccessStatusCode();
            (await machines.PostAsync($"/api/machines/custom/{machine.Id}/release", null)).EnsureSuccessStatusCode();
        }

        await app.OutboxDrainedAsync();
        await Eventually.TrueAsync(async () => await app.ScalarAsync("SELECT count(*) FROM agents WHERE user_id LIKE 'scan-%' AND status = 'deleting'") == 0,
            TimeSpan.FromSeconds(30), "deletions did not finish");
        foreach (var factory in new IServiceProvider[] { app.Agents.Services, app.Pool.Services, app.Machines.Services, app.Snapshots.Services })
        {
            factory.GetRequiredService<TracerProvider>().ForceFlush();
            factory.GetRequiredService<MeterProvider>().ForceFlush();
        }

        var exported = app.Telemetry.AllText();
        Assert.NotEmpty(app.Telemetry.Spans.Snapshot());
        Assert.NotEmpty(app.Telemetry.Logs.Snapshot());
        Assert.NotEmpty(app.Telemetry.MessageBodies);
        foreach (var key in keys)
        {
            Assert.DoesNotContain(exported, text => text.Contains(key, StringComparison.Ordinal));
            Assert.Equal(0, await app.ScalarAsync("SELECT count(*) FROM outbox_messages WHERE payload::text LIKE '%' || @k || '%'", ("k", key)));
        }
    }

    private string? ClaimRequestTraceId(string agentId)
    {
        return app.Telemetry.Spans.Snapshot()
            .FirstOrDefault(s => s.Kind == ActivityKind.Server && s.GetTagItem("url.path") is string path && path == $"/api/agents/{agentId}/claim")
            ?.TraceId.ToString();
    }

    private Activity? ConsumerSpanIn(string? traceId)
    {
        return traceId is null
            ? null
            : app.Telemetry.Spans.Snapshot().FirstOrDefault(s => s.Source.Name == "MassTransit" && s.Kind == ActivityKind.Consumer && s.TraceId.ToString() == traceId);
    }
}
