using System.Diagnostics.Metrics;
using System.Net;
using System.Net.Http.Json;
using FleetAspire.Data.MachineTransition.Backfill;
using FleetAspire.Data.MachineTransition.Verification;
using FleetAspire.Migration.Apis;
using Microsoft.Extensions.DependencyInjection;

namespace FleetAspire.Transition.Tests;

public sealed class MigrationApiTests : IAsyncLifetime
{
    private FleetServiceFactory<MigrationStatus> _control = null!;
    private string _database = null!;

    public async Task InitializeAsync()
    {
        _database = await (await TestPostgres.GetAsync()).CreateDatabaseAsync("controlapi");
        await Sql.ExecuteAsync(_database, BackfillTests.LegacyFleet);
        // The phase the backfill and the verifier run in (no service instance runs here to acknowledge it).
        await Sql.ExecuteAsync(_database, "UPDATE migration_phase SET phase = 'DualWrite', epoch = epoch + 1");
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
        Assert.Equal(0, await Sql.ScalarAsync(_database, "SELECT count(*) FROM migration_backfill"));
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
        var dirty = await DirtyReports.AllAsync(ops);

        Assert.Equal("DualWrite", status!.Phase);
        Assert.True(status.Backfill.RowsPerSecond > 0);
        Assert.Null(status.Backfill.EstimatedRemaining);
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
        await Sql.ExecuteAsync(_database, "UPDATE machines SET port = 1 WHERE id = 'mc_cm_free'");
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
        var catchUp = await ops.PostAsync("/api/migration/backfill/catch-up", null);

        Assert.Equal(HttpStatusCode.Conflict, pause.StatusCode);
        Assert.Equal(HttpStatusCode.Conflict, resume.StatusCode);
        Assert.Equal(HttpStatusCode.Conflict, catchUp.StatusCode);
        Assert.Equal("application/problem+json", pause.Content.Headers.ContentType?.MediaType);
    }

    [Fact]
    public async Task Incremental_verification_runs_on_request_and_its_summary_is_the_last_one_reported()
    {
        using var ops = _control.ClientFor(TestTokens.Operator());
        (await ops.PostAsync("/api/migration/backfill/start", null)).EnsureSuccessStatusCode();
        await Eventually.TrueAsync(async () => (await ops.GetFromJsonAsync<MigrationStatus>("/api/migration"))!.Backfill.State == BackfillStates.Done,
            TimeSpan.FromSeconds(30), "the backfill did not finish");
        (await ops.PostAsync("/api/migration/verify", null)).EnsureSuccessStatusCode();
        // Old code moves a free custom machine: only the legacy row changes.
        await Sql.ExecuteAsync(_database, "UPDATE custom_machines SET port = 2200 WHERE id = 'cm_free'");

        VerificationSummary incremental = null!;
        await Eventually.TrueAsync(async () =>
        {
            // The change is visible to the verifier once every older transaction in the cluster has finished.
            incremental = (await (await ops.PostAsync("/api/migration/verify?mode=incremental", null)).Content.ReadFromJsonAsync<VerificationSummary>())!;
            return incremental.ChangesChecked > 0;
        }, TimeSpan.FromSeconds(20), "the incremental verification never saw the change");
        var status = await ops.GetFromJsonAsync<MigrationStatus>("/api/migration");
        var bad = await ops.PostAsync("/api/migration/verify?mode=sideways", null);

        Assert.Equal(1, incremental.ChangesChecked);
        Assert.Equal(1, incremental.OpenByKind[DivergenceKinds.FieldMismatch]);
        Assert.Equal(VerificationModes.Incremental, status!.LastVerification!.Mode);
        Assert.Equal(1, status.LastVerification.Open);
        Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
        Assert.Equal("application/problem+json", bad.Content.Headers.ContentType?.MediaType);
    }

    [Fact]
    public async Task Backfill_progress_is_published_as_metrics_while_it_runs()
    {
        await using var control = new FleetServiceFactory<MigrationStatus>(_database, amqpUri: null, new Dictionary<string, string?>
        {
            ["Backfill:BatchSize"] = "1",
            ["Backfill:Pause"] = "00:00:00.050",
            ["Verification:SampleInterval"] = "00:00:00.050",
        });
        using var ops = control.ClientFor(TestTokens.Operator());
        var meters = control.Services.GetRequiredService<IMeterFactory>();
        var values = new System.Collections.Concurrent.ConcurrentDictionary<string, double>();
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            // Only this host's instruments: other tests' hosts publish the same names in this process.
            if (ReferenceEquals(instrument.Meter.Scope, meters)
                && (instrument.Name.StartsWith("fleet.migration.backfill.", StringComparison.Ordinal) || instrument.Name is "fleet.migration.phase" or "fleet.migration.epoch"))
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        listener.SetMeasurementEventCallback<long>((instrument, value, tags, _) => values[Key(instrument, tags)] = value);
        listener.SetMeasurementEventCallback<int>((instrument, value, tags, _) => values[Key(instrument, tags)] = value);
        listener.SetMeasurementEventCallback<double>((instrument, value, tags, _) => values[Key(instrument, tags)] = value);
        listener.Start();
        static string Key(Instrument instrument, ReadOnlySpan<KeyValuePair<string, object?>> tags) =>
            instrument.Name + (tags.Length > 0 ? ":" + tags[0].Value : "");
        double Read(string key)
        {
            listener.RecordObservableInstruments();
            return values.GetValueOrDefault(key);
        }

        (await ops.PostAsync("/api/migration/backfill/start", null)).EnsureSuccessStatusCode();

        await Eventually.TrueAsync(() => Task.FromResult(Read("fleet.migration.backfill.running") == 1 && Read("fleet.migration.backfill.rows:done") > 0),
            TimeSpan.FromSeconds(30), "no progress was published while the backfill ran");
        var midway = Read("fleet.migration.backfill.progress");
        var running = (await ops.GetFromJsonAsync<MigrationStatus>("/api/migration"))!.Backfill;
        Assert.InRange(midway, 0.0001, 0.9999);
        Assert.True(running.State != BackfillStates.Running || running.EstimatedRemaining is not null, "a running backfill has an ETA");
        Assert.True(Read("fleet.migration.backfill.rows:total") >= 20);
        await Eventually.TrueAsync(() => Task.FromResult(Read("fleet.migration.backfill.running") == 0 && Read("fleet.migration.backfill.progress") >= 0.9),
            TimeSpan.FromSeconds(60), "the finished backfill was not published");
        // The phase and its epoch, as stored.
        var stored = await Sql.ScalarAsync(_database, "SELECT epoch FROM migration_phase");
        Assert.Equal(stored, Read("fleet.migration.epoch"));
        Assert.Equal(1, Read("fleet.migration.phase:DualWrite"));
    }
}
