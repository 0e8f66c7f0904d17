using System.Net.Http.Json;
using System.Text.Json;
using FleetAspire.Names;
using FleetAspire.Testing;

namespace FleetAspire.AppHost.Tests;

/// <summary>
/// What an operator sees on the dashboard while old and new representations run side by side: a divergence planted in
/// the database, found by a shadow read in the running app, is a span event the dashboard's telemetry API returns and a
/// record the divergences API lists.
/// </summary>
[Collection(FleetAppHostCollection.Name)]
public sealed class TracedDivergenceTests(FleetAppHostFixture fixture)
{
    private const string DivergenceEvent = "fleet.migration.divergence";

    [Fact]
    public async Task A_planted_divergence_found_by_a_shadow_read_is_on_the_dashboard_and_in_the_divergences_api()
    {
        using var control = fixture.Client(ResourceNames.Migration, TestTokens.Operator());
        using var pool = fixture.Client(ResourceNames.Pool, TestTokens.Operator());
        using var user = fixture.Client(ResourceNames.Agents, TestTokens.User("traced"));
        using var telemetry = fixture.DashboardTelemetry();
        var database = await fixture.App.GetConnectionStringAsync(ResourceNames.FleetDatabase)
            ?? throw new InvalidOperationException("no connection string for the fleet database");
        var phaseBefore = await PhaseAsync(control);
        if (phaseBefore == "Legacy")
        {
            await FlipAsync(control, "DualWrite", "traced divergence test");
        }

        try
        {
            Assert.Equal("DualWrite", await PhaseAsync(control));
            (await pool.PutAsJsonAsync("/api/pool/target", new { targetSize = 2 })).EnsureSuccessStatusCode();
            await Eventually.TrueAsync(async () => (await pool.GetFromJsonAsync<JsonElement>("/api/pool")).GetProperty("ready").GetInt32() >= 1,
                TimeSpan.FromSeconds(30), "the pool did not fill");
            var agentId = (await (await user.PostAsJsonAsync("/api/agents", new { name = "traced" })).Content.ReadFromJsonAsync<JsonElement>())
                .GetProperty("id").GetString()!;
            (await user.PostAsync($"/api/agents/{agentId}/claim", null)).EnsureSuccessStatusCode();
            var machineRef = await Sql.StringAsync(database, "SELECT machine_ref FROM agents WHERE id = @id", ("id", agentId));
            Assert.NotNull(machineRef);
            var ipv4 = await Sql.StringAsync(database, "SELECT ipv4 FROM machines WHERE id = @id", ("id", machineRef));

            // Planted on the Machine side only (no legacy write, so no dual-write puts it back); legacy serves the reads.
            await Sql.ExecuteAsync(database, $"UPDATE machines SET ipv4 = '10.99.0.7' WHERE id = '{machineRef}'");
            var served = await user.GetStringAsync($"/api/agents/{agentId}");
            await Eventually.TrueAsync(async () =>
                {
                    // Reads are sampled (10 % in DualWrite): read until one is compared.
                    Assert.Equal(served, await user.GetStringAsync($"/api/agents/{agentId}"));
                    return await OpenShadowDivergenceAsync(control, machineRef) is not null;
                }, TimeSpan.FromSeconds(60), "no shadow read recorded the planted divergence");

            var record = (await OpenShadowDivergenceAsync(control, machineRef))!.Value;
            Assert.Equal(("ipv4", "field-mismatch", ipv4, "10.99.0.7"), (record.GetProperty("field").GetString(), record.GetProperty("kind").GetString(),
                record.GetProperty("legacyValue").GetString(), record.GetProperty("machineValue").GetString()));

            // The dashboard: the agents service exported the comparison's span, the divergence an event on it, linked
            // to the request that sampled it.
            JsonElement? span = null;
            await Eventually.TrueAsync(async () => (span = await DivergenceSpanAsync(telemetry, machineRef)) is not null,
                TimeSpan.FromSeconds(30), "the dashboard's telemetry API has no span with the divergence event");
            var found = span!.Value.GetProperty("events").EnumerateArray().First(e => e.GetProperty("name").GetString() == DivergenceEvent);
            var attributes = Attributes(found);
            Assert.Equal(("machines", "ipv4", "field-mismatch", "shadow", "DualWrite"), (attributes["fleet.divergence.entity"],
                attributes["fleet.divergence.field"], attributes["fleet.divergence.kind"], attributes["fleet.divergence.source"],
                attributes["fleet.migration.phase"]));
            Assert.True(span.Value.TryGetProperty("links", out var links) && links.GetArrayLength() == 1, "the span is not linked to the request");

            // Put back: the next sampled read compares clean and resolves the record.
            await Sql.ExecuteAsync(database, $"UPDATE machines SET ipv4 = '{ipv4}' WHERE id = '{machineRef}'");
            await Eventually.TrueAsync(async () =>
                {
                    await user.GetStringAsync($"/api/agents/{agentId}");
                    return await OpenShadowDivergenceAsync(control, machineRef) is null;
                }, TimeSpan.FromSeconds(60), "the shadow record was not resolved once the data was put back");
        }
        finally
        {
            if (phaseBefore == "Legacy")
            {
                await FlipAsync(control, "Legacy", "traced divergence test: restore");
            }
        }
    }

    private static async Task<string?> PhaseAsync(HttpClient control) =>
        (await control.GetFromJsonAsync<JsonElement>("/api/migration")).GetProperty("phases").GetProperty("phase").GetString();

    private static async Task FlipAsync(HttpClient control, string target, string reason)
    {
        // Every service must run the current epoch before a flip's gate opens; after a flip they follow within seconds.
        await Eventually.SucceedsAsync(async () =>
                (await control.PostAsJsonAsync("/api/migration/phase", new { target, reason, force = false })).EnsureSuccessStatusCode(),
            TimeSpan.FromSeconds(30), $"the flip to {target} was refused");
        await Eventually.TrueAsync(async () =>
            {
                var phases = (await control.GetFromJsonAsync<JsonElement>("/api/migration")).GetProperty("phases");
                var epoch = phases.GetProperty("epoch").GetInt64();
                return phases.GetProperty("instances").EnumerateArray().All(i => i.GetProperty("epoch").GetInt64() == epoch);
            }, TimeSpan.FromSeconds(10), $"not every service followed the flip to {target}");
    }

    private static async Task<JsonElement?> OpenShadowDivergenceAsync(HttpClient control, string machineRef)
    {
        var page = await control.GetFromJsonAsync<JsonElement>("/api/migration/divergences?entity=machines&state=open&limit=100");
        foreach (var item in page.GetProperty("items").EnumerateArray())
        {
            if (item.GetProperty("entityId").GetString() == machineRef && item.GetProperty("source").GetString() == "shadow")
            {
                return item.Clone();
            }
        }

        return null;
    }

    /// <summary>The agents service's exported span (OTLP JSON, as the dashboard returns it) carrying the divergence event.</summary>
    private static async Task<JsonElement?> DivergenceSpanAsync(HttpClient telemetry, string machineRef)
    {
        using var response = await telemetry.GetAsync($"/api/telemetry/spans?resource={ResourceNames.Agents}&limit=1000");
        if (!response.IsSuccessStatusCode)
        {
            return null;
        }

        var body = await response.Content.ReadFromJsonAsync<JsonElement>();
        foreach (var resourceSpans in body.GetProperty("data").GetProperty("resourceSpans").EnumerateArray())
        {
            foreach (var scopeSpans in resourceSpans.GetProperty("scopeSpans").EnumerateArray())
            {
                foreach (var span in scopeSpans.GetProperty("spans").EnumerateArray())
                {
                    if (span.TryGetProperty("events", out var events) && events.EnumerateArray().Any(e =>
                            e.GetProperty("name").GetString() == DivergenceEvent && Attributes(e).GetValueOrDefault("fleet.divergence.id") == machineRef))
                    {
                        return span.Clone();
                    }
                }
            }
        }

        return null;
    }

    private static Dictionary<string, string?> Attributes(JsonElement element) =>
        element.TryGetProperty("attributes", out var attributes)
            ? attributes.EnumerateArray().ToDictionary(a => a.GetProperty("key").GetString()!, a => (string?)a.GetProperty("value").EnumerateObject().FirstOrDefault().Value.ToString())
            : [];
}
