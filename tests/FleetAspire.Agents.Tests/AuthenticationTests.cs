using System.Net;
using System.Net.Http.Json;
using FleetAspire.Pool.Apis;
using FleetAspire.Testing;

namespace FleetAspire.Agents.Tests;

public sealed class AuthenticationTests(FleetAppFixture app) : IClassFixture<FleetAppFixture>
{
    public static TheoryData<string> BadTokens => new()
    {
        TestTokens.Forged("mallory"),
        TestTokens.Expired("late"),
        "not-a-jwt",
    };

    [Fact]
    public async Task Requests_without_a_credential_are_401_problem_details()
    {
        using var anonymous = app.AgentsAs(null);

        var response = await anonymous.GetAsync("/api/agents");

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
    }

    [Theory]
    [MemberData(nameof(BadTokens))]
    public async Task Forged_expired_or_malformed_tokens_are_refused(string token)
    {
        using var client = app.AgentsAs(token);
        var before = await app.ScalarAsync("SELECT count(*) FROM agents");

        var response = await client.PostAsJsonAsync("/api/agents", new { name = "sneaky" });

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Equal(before, await app.ScalarAsync("SELECT count(*) FROM agents"));
    }

    [Fact]
    public async Task A_bare_identity_header_is_not_a_credential()
    {
        using var client = app.AgentsAs(null);
        client.DefaultRequestHeaders.Add("X-User-Id", "alice");

        Assert.Equal(HttpStatusCode.Unauthorized, (await client.GetAsync("/api/agents")).StatusCode);
    }

    [Fact]
    public async Task Users_cannot_use_operator_endpoints()
    {
        using var user = app.Pool.ClientFor(TestTokens.User("not-ops"));
        var before = await app.ScalarAsync("SELECT target_size FROM pool_settings");

        var response = await user.PutAsJsonAsync("/api/pool/target", new SetPoolTargetRequest((int)before + 5));

        Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.Equal(before, await app.ScalarAsync("SELECT target_size FROM pool_settings"));
    }

    [Fact]
    public async Task Health_endpoints_answer_without_a_credential()
    {
        using var anonymous = app.AgentsAs(null);

        Assert.Equal(HttpStatusCode.OK, (await anonymous.GetAsync("/alive")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await anonymous.GetAsync("/health")).StatusCode);
    }
}
