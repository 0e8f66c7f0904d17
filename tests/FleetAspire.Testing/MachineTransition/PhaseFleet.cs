using FleetAspire.Data.MachineTransition.Phases;
using FleetAspire.Migration.Apis;
using Microsoft.Extensions.DependencyInjection;

namespace FleetAspire.Testing;

/// <summary>The four services and the control service on one database.</summary>
public class PhaseFleet : FleetAppFixture
{
    public FleetServiceFactory<MigrationStatus> Control { get; private set; } = null!;

    protected override Dictionary<string, string?> Settings { get; } = new()
    {
        ["Pool:ReconcilerEnabled"] = "false",
        ["HealthChecks:SweeperEnabled"] = "false",
        ["MachineTransition:PollInterval"] = "00:00:00.200",
    };

    /// <summary>Settings of the control service only.</summary>
    protected virtual Dictionary<string, string?>? ControlSettings => null;

    public override async Task InitializeAsync()
    {
        await base.InitializeAsync();
        Control = new FleetServiceFactory<MigrationStatus>(Database, amqpUri: null, ControlSettings);
        _ = Control.Server;
    }

    public override async Task DisposeAsync()
    {
        await Control.DisposeAsync();
        await base.DisposeAsync();
    }

    /// <summary>Walks to <paramref name="target"/> one forced flip at a time (leaving MachineOnly runs the reverse sync) and waits for every service.</summary>
    public async Task WalkToAsync(TransitionPhase target)
    {
        var store = Control.Services.GetRequiredService<PhaseStore>();
        for (var current = await store.ReadAsync(CancellationToken.None); current.Phase != target; current = await store.ReadAsync(CancellationToken.None))
        {
            var step = current.Phase < target ? current.Phase + 1 : current.Phase - 1;
            await store.FlipAsync(step, current.Epoch, "test-setup", "walk", true, [], CancellationToken.None);
        }

        var epoch = await ScalarAsync("SELECT epoch FROM migration_phase");
        await Eventually.TrueAsync(async () => await ScalarAsync(
                "SELECT count(*) FROM migration_instances WHERE expires_at > now() AND epoch <> @e", ("e", epoch)) == 0
                && await ScalarAsync("SELECT count(*) FROM migration_instances WHERE expires_at > now()") >= 4,
            TimeSpan.FromSeconds(5), $"the services did not follow to {target}");
    }
}
