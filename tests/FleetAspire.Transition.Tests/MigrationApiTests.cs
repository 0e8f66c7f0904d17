using System.Net;
using System.Net.Http.Json;
using FleetAspire.Data.MachineTransition.Backfill;
using FleetAspire.Data.MachineTransition.Verification;
using FleetAspire.Migration.Apis;

namespace FleetAspire.Transition.Tests;

public sealed class MigrationApiTests : IAsyncLifetime
{
    private FleetServiceFactory<MigrationStatus> _control = null!;
    private string _database = null!;

    public async Task InitializeAsync()
    {
        _database = await (await TestPostgres.GetAsync()).CreateDatabaseAsync("controlapi");
        await ExpandMigrationTests.ExecuteAsync(_database, BackfillTests.LegacyFleet);
        _control = new FleetServiceFactory<MigrationStatus>(_database, amqpUri: null, new Dictionary<string, string?> { ["Backfill:Pause"] = "00:00:00" });
    }

    public async Task DisposeAsync() => await _control.DisposeAsync();

    [Fact]
    public async Task Only_operators_reach_the_control_api()
    {
        using var user = _control.ClientFor(TestTokens.User("alice"));
        using var anonymous = _control.ClientFor(null);

        Assert.Equal(HttpStatusCode.Forbidden, (await user.GetAsync("/api/migration")).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await user.PostAsync("/api/migration/backfill/start", null)).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await anonymous.PostAsync("/api/migration/verify", null)).StatusCode);
        Assert.Equal(0, await ExpandMigrationTests.ScalarAsync(_database, "SELECT count(*) FROM migration_backfill"));
    }

    [Fact]
    public async Task Start_runs_the_backfill_to_done_in_the_background_and_verify_then_finds_it_clean()
    {
        using var ops = _control.ClientFor(TestTokens.Operator());

        var start = await ops.PostAsync("/api/migration/backfill/start", null);
        Assert.Equal(HttpStatusCode.Accepted, start.StatusCode);
        await Eventually.TrueAsync(async () => (await ops.GetFromJsonAsync<MigrationStatus>("/api/migration"))!.Backfill.State == BackfillStates.Done,
            TimeSpan.FromSeconds(30), "the backfill did not finish");
        var verify = await (await ops.PostAsync("/api/migration/verify", null)).Content.ReadFromJsonAsync<VerificationSummary>();
        var status = await ops.GetFromJsonAsync<MigrationStatus>("/api/migration");
        var dirty = await ops.GetFromJsonAsync<List<DirtyRow>>("/api/migration/dirty");

        Assert.Equal("Legacy", status!.Phase);
        Assert.True(verify!.Clean, string.Join(", ", verify.OpenByKind.Select(k => $"{k.Key}={k.Value}")));
        Assert.True(status.Dirty.ContainsKey("duplicate-provider-id"));
        Assert.Contains(dirty!, d => d.Class == "orphan-snapshot" && d.EntityId == "snap_orphan");
    }

    [Fact]
    public async Task A_planted_divergence_is_listed_with_filters_and_bad_filters_are_400()
    {
        using var ops = _control.ClientFor(TestTokens.Operator());
        (await ops.PostAsync("/api/migration/backfill/start", null)).EnsureSuccessStatusCode();
        await Eventually.TrueAsync(async () => (await ops.GetFromJsonAsync<MigrationStatus>("/api/migration"))!.Backfill.State == BackfillStates.Done,
            TimeSpan.FromSeconds(30), "the backfill did not finish");
        await ExpandMigrationTests.ExecuteAsync(_database, "UPDATE machines SET port = 1 WHERE id = 'mc_cm_free'");
        (await ops.PostAsync("/api/migration/verify", null)).EnsureSuccessStatusCode();

        var open = await ops.GetFromJsonAsync<Page<DivergenceRecord>>($"/api/migration/divergences?state=open&kind={DivergenceKinds.FieldMismatch}&entity=machines");
        var none = await ops.GetFromJsonAsync<Page<DivergenceRecord>>("/api/migration/divergences?state=resolved");

        Assert.Contains(open!.Items, d => d.EntityId == "mc_cm_free" && d.Field == "port" && d.LegacyValue == "8911" && d.MachineValue == "1");
        Assert.Empty(none!.Items);
        foreach (var bad in new[] { "?kind=nope", "?state=maybe", "?entity=users", "?limit=0", "?after=%27" })
        {
            Assert.Equal(HttpStatusCode.BadRequest, (await ops.GetAsync("/api/migration/divergences" + bad)).StatusCode);
        }
    }

    [Fact]
    public async Task Pausing_a_backfill_that_is_not_running_is_a_409()
    {
        using var ops = _control.ClientFor(TestTokens.Operator());

        var pause = await ops.PostAsync("/api/migration/backfill/pause", null);
        var resume = await ops.PostAsync("/api/migration/backfill/resume", null);

        Assert.Equal(HttpStatusCode.Conflict, pause.StatusCode);
        Assert.Equal(HttpStatusCode.Conflict, resume.StatusCode);
        Assert.Equal("application/problem+json", pause.Content.Headers.ContentType?.MediaType);
    }
}
