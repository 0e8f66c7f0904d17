using System.Diagnostics.Metrics;
using FleetAspire.Testing;
using System.Net;
using System.Net.Http.Json;
using FleetAspire.Messaging;
using Microsoft.Extensions.DependencyInjection;

namespace FleetAspire.Agents.Tests;

public sealed class OutboxPoisonTests(FleetAppFixture app) : IClassFixture<FleetAppFixture>
{
    [Fact]
    public async Task An_unreadable_outbox_row_is_parked_after_its_attempts_later_events_are_delivered_and_operators_see_and_retry_it()
    {
        await app.OutboxDrainedAsync();
        // Every service host runs a dispatcher (one at a time holds the outbox lock): any of them may park the rows.
        var meters = new[] { app.Agents.Services, app.Machines.Services, app.Pool.Services, app.Snapshots.Services }
            .Select(s => s.GetRequiredService<IMeterFactory>()).ToList();
        long parkedCount = 0;
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (meters.Any(m => ReferenceEquals(instrument.Meter.Scope, m)) && instrument.Name == OutboxDispatcher.ParkedMetric)
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        listener.SetMeasurementEventCallback<long>((_, value, _, _) => Interlocked.Add(ref parkedCount, value));
        listener.Start();
        // A row of a type this build does not have, and one whose payload does not fit its type, ahead of a good event.
        await app.ExecuteAsync("""
            INSERT INTO outbox_messages (message_id, aggregate_id, message_type, payload, created_at, attempts)
            VALUES (gen_random_uuid(), 'agt_poison_1', 'FleetAspire.Contracts.Agents.AgentRenamedInAFutureBuild', '{"agentId":"agt_poison_1"}', now(), 0),
                   (gen_random_uuid(), 'agt_poison_2', 'FleetAspire.Contracts.Pool.MachineClaimed', '{"agentId": {"not": "a string"}}', now(), 0)
            """);
        var agent = await app.CreateAgentAsync("after-poison");
        await app.ProvisionPoolAsync(1);
        using (var client = app.AgentsAs(TestTokens.User("after-poison")))
        {
            (await client.PostAsync($"/api/agents/{agent.Id}/claim", null)).EnsureSuccessStatusCode();
        }

        // The claim's event goes out although two unreadable rows sit before it.
        await Eventually.TrueAsync(async () => await app.ScalarAsync(
                "SELECT count(*) FROM outbox_messages WHERE aggregate_id = @a AND sent_at IS NOT NULL", ("a", agent.Id)) == 1,
            TimeSpan.FromSeconds(30), "an event behind unreadable rows was not delivered");
        Assert.Equal(2, await app.ScalarAsync("""
            SELECT count(*) FROM outbox_messages
            WHERE aggregate_id LIKE 'agt_poison_%' AND parked_at IS NOT NULL AND sent_at IS NULL AND attempts = 5 AND last_error LIKE 'unreadable: %'
            """));
        listener.RecordObservableInstruments();
        Assert.Equal(2, Interlocked.Read(ref parkedCount));

        using var ops = app.AgentsAs(TestTokens.Operator());
        var parked = (await ops.GetFromJsonAsync<List<ParkedMessage>>("/api/outbox/parked"))!;
        Assert.Equal(["agt_poison_1", "agt_poison_2"], parked.Select(p => p.AggregateId).Order());
        using (var user = app.AgentsAs(TestTokens.User("after-poison")))
        {
            Assert.Equal(HttpStatusCode.Forbidden, (await user.GetAsync("/api/outbox/parked")).StatusCode);
        }

        // Fixed (here: the payload corrected by hand), sent again on request; discarded for good.
        var bad = parked.Single(p => p.AggregateId == "agt_poison_2");
        await app.ExecuteAsync($"UPDATE outbox_messages SET payload = jsonb_build_object('agentId', 'agt_poison_2', 'machineId', 'mh_x', 'providerMachineId', '1', 'claimedAt', now()) WHERE id = {bad.Id}");
        Assert.Equal(HttpStatusCode.NoContent, (await ops.PostAsync($"/api/outbox/parked/{bad.Id}/retry", null)).StatusCode);
        await Eventually.TrueAsync(async () => await app.ScalarAsync("SELECT count(*) FROM outbox_messages WHERE id = @i AND sent_at IS NOT NULL", ("i", bad.Id)) == 1,
            TimeSpan.FromSeconds(30), "the retried row was not delivered");
        var unknown = parked.Single(p => p.AggregateId == "agt_poison_1");
        Assert.Equal(HttpStatusCode.NoContent, (await ops.DeleteAsync($"/api/outbox/parked/{unknown.Id}")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await ops.DeleteAsync($"/api/outbox/parked/{unknown.Id}")).StatusCode);
        Assert.Equal(0, await app.ScalarAsync("SELECT count(*) FROM outbox_messages WHERE id = @i", ("i", unknown.Id)));
    }
}
