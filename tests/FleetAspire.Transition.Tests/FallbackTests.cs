using System.Net.Http.Json;
using FleetAspire.Data.MachineTransition.Phases;
using FleetAspire.Migration.Application;
using Microsoft.Extensions.DependencyInjection;

namespace FleetAspire.Transition.Tests;

/// <summary>Falls back at three divergences, re-arms at one, checks every 100 ms.</summary>
public sealed class FallbackFleet : PhaseFleet
{
    protected override Dictionary<string, string?>? ControlSettings => new()
    {
        ["Fallback:Threshold"] = "3",
        ["Fallback:RearmAt"] = "1",
        ["Fallback:Window"] = "00:05:00",
        ["Fallback:CheckInterval"] = "00:00:00.100",
        ["Verification:IncrementalInterval"] = "00:00:00",
    };
}

public sealed class FallbackTests(FallbackFleet fleet) : IClassFixture<FallbackFleet>
{
    private HttpClient Operator() => fleet.Control.ClientFor(TestTokens.Operator("ops"));

    private async Task PlantAndScanAsync(IEnumerable<string> customIds)
    {
        foreach (var id in customIds)
        {
            await fleet.ExecuteAsync($"UPDATE machines SET port = port + 1 WHERE legacy_id = '{id}'");
        }

        (await Operator().PostAsync("/api/migration/verify", null)).EnsureSuccessStatusCode();
    }

    private async Task SeveralChecksAsync()
    {
        var fallback = fleet.Control.Services.GetRequiredService<AutomaticFallback>();
        var target = fallback.Checks + 5;
        await Eventually.TrueAsync(() => Task.FromResult(fallback.Checks >= target), TimeSpan.FromSeconds(10), "the fallback monitor did not run");
    }

    [Fact]
    public async Task MachineRead_falls_back_to_DualWrite_above_the_threshold_not_below_and_does_not_flap()
    {
        await fleet.WalkToAsync(TransitionPhase.DualWrite);
        var machines = new List<string>();
        for (var i = 0; i < 4; i++)
        {
            machines.Add((await fleet.RegisterMachineAsync("fallback", $"203.0.113.{100 + i}")).Machine.Id);
        }

        await fleet.WalkToAsync(TransitionPhase.MachineRead);

        // Two divergences: below the threshold, the fleet stays.
        await PlantAndScanAsync(machines.Take(2));
        await SeveralChecksAsync();
        Assert.Equal("MachineRead", await fleet.StringAsync("SELECT phase FROM migration_phase"));

        // Four: above it, the control service flips back by itself, audited.
        await PlantAndScanAsync(machines.Skip(2));
        await Eventually.TrueAsync(async () => await fleet.StringAsync("SELECT phase FROM migration_phase") == "DualWrite",
            TimeSpan.FromSeconds(10), "no automatic fallback");
        var history = await Operator().GetFromJsonAsync<List<PhaseHistoryEntry>>("/api/migration/history?limit=1");
        Assert.Equal((AutomaticFallback.Actor, "MachineRead", "DualWrite", true), (history![0].Actor, history[0].From, history[0].To, history[0].Forced));
        Assert.Contains("4 divergences", history[0].Reason, StringComparison.Ordinal);

        // Re-entered with the same divergences still open: they predate the phase, so no second fallback.
        await fleet.WalkToAsync(TransitionPhase.MachineRead);
        await SeveralChecksAsync();
        Assert.Equal("MachineRead", await fleet.StringAsync("SELECT phase FROM migration_phase"));
        Assert.Equal(1, await fleet.ScalarAsync("SELECT count(*) FROM migration_phase_history WHERE actor = @a", ("a", AutomaticFallback.Actor)));
        await fleet.WalkToAsync(TransitionPhase.DualWrite);
    }
}
