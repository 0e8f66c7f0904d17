using System.Net;
using System.Net.Http.Json;
using System.Text;
using FleetAspire.Agents.Apis;
using FleetAspire.Names;
using FleetAspire.ServiceDefaults.Auth;
using FleetAspire.Testing;

namespace FleetAspire.Agents.Tests;

/// <summary>Who may call, how often, with how much: tokens without a subject, the committed key, limits, caching.</summary>
public sealed class CallerLimitsTests(FleetAppFixture app) : IClassFixture<FleetAppFixture>
{
    [Theory]
    [InlineData("")]
    [InlineData("   ")]
    public async Task A_validly_signed_token_without_a_subject_is_401_and_creates_nothing(string subject)
    {
        var token = FleetTokens.Create(TestTokens.SigningKey, subject, AuthNames.UserRole, TimeSpan.FromHours(1));
        using var client = app.AgentsAs(token);
        var before = await app.ScalarAsync("SELECT count(*) FROM agents");

        var created = await client.PostAsJsonAsync("/api/agents", new { name = "nobody's" });
        var listed = await client.GetAsync("/api/agents");

        Assert.Equal(HttpStatusCode.Unauthorized, created.StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, listed.StatusCode);
        Assert.Equal(before, await app.ScalarAsync("SELECT count(*) FROM agents"));
        Assert.Equal(0, await app.ScalarAsync("SELECT count(*) FROM agents WHERE trim(user_id) = ''"));
    }

    [Fact]
    public void A_service_outside_Development_refuses_to_start_with_the_committed_development_key()
    {
        using var factory = new FleetServiceFactory<AgentResponse>(app.Database, app.Broker, new Dictionary<string, string?>
        {
            ["environment"] = "Production",
            [AuthNames.SigningKeyConfig] = AuthNames.DevelopmentSigningKey,
        });

        var refused = Assert.ThrowsAny<Exception>(() => factory.Server);

        Assert.Contains("committed development key", Flatten(refused));
    }

    [Fact]
    public async Task The_connection_info_response_is_never_cached()
    {
        var agent = await app.AgentWithPoolMachineAsync("cache-averse");
        using var owner = app.AgentsAs(TestTokens.User("cache-averse"));

        var response = await owner.GetAsync($"/api/agents/{agent.Id}/connection");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("no-store", response.Headers.CacheControl?.ToString());
    }

    [Fact]
    public async Task A_user_over_the_rate_limit_gets_429_with_retry_after_and_other_users_are_not_affected()
    {
        await using var limited = new FleetServiceFactory<AgentResponse>(app.Database, app.Broker, new Dictionary<string, string?>
        {
            ["RateLimits:PerUserPerSecond"] = "1",
            ["RateLimits:PerUserBurst"] = "5",
        });
        using var greedy = limited.ClientFor(TestTokens.User("greedy"));
        using var other = limited.ClientFor(TestTokens.User("modest"));

        var statuses = new List<HttpStatusCode>();
        for (var i = 0; i < 12; i++)
        {
            statuses.Add((await greedy.GetAsync("/api/agents")).StatusCode);
        }

        var refused = await greedy.GetAsync("/api/agents");
        Assert.Contains(HttpStatusCode.TooManyRequests, statuses);
        Assert.Equal(HttpStatusCode.TooManyRequests, refused.StatusCode);
        Assert.Equal("application/problem+json", refused.Content.Headers.ContentType?.MediaType);
        Assert.True(refused.Headers.RetryAfter?.Delta >= TimeSpan.FromSeconds(1));
        Assert.Equal(HttpStatusCode.OK, (await other.GetAsync("/api/agents")).StatusCode);
    }

    [Fact]
    public async Task A_request_body_over_the_limit_is_413_problem_details_and_writes_nothing()
    {
        await using var kestrel = new FleetServiceFactory<AgentResponse>(app.Database, app.Broker);
        var address = kestrel.StartKestrel();
        using var client = new HttpClient { BaseAddress = address };
        client.DefaultRequestHeaders.Authorization = new("Bearer", TestTokens.User("verbose"));
        var huge = "{\"name\":\"" + new string('x', 64 * 1024) + "\"}";

        var response = await client.PostAsync("/api/agents", new StringContent(huge, Encoding.UTF8, "application/json"));

        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.Equal(0, await app.ScalarAsync("SELECT count(*) FROM agents WHERE user_id = 'verbose'"));
    }

    private static string Flatten(Exception exception)
    {
        var messages = new StringBuilder();
        for (var e = exception; e is not null; e = e.InnerException)
        {
            messages.AppendLine(e.Message);
        }

        return messages.ToString();
    }
}
