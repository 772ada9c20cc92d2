using System.Net;
using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Http;

namespace ImageGpt.Host.Dashboard;

/// <summary>
/// The run's secret on every request when the dashboard listens beyond the loopback interface: as
/// <c>Authorization: Bearer SECRET</c>, or once as <c>?token=SECRET</c>, which sets a cookie (HttpOnly, SameSite=Strict) and
/// redirects to the same page without it, so that the page's own requests (images, polling) carry it. The health
/// endpoints stay open: they say only whether the node is up, for probes that hold no secret.
/// </summary>
public sealed class TokenCheck(string secret)
{
    public const string CookieName = "imagegpt_token";
    private readonly byte[] _secret = Encoding.UTF8.GetBytes(secret);

    /// <summary>Whether a dashboard on this address needs the secret.</summary>
    public static bool Required(IPAddress bind) => !IPAddress.IsLoopback(bind);

    public async Task InvokeAsync(HttpContext context, RequestDelegate next)
    {
        if (context.Request.Path.StartsWithSegments("/health"))
        {
            await next(context);
            return;
        }
        if (context.Request.Query["token"] is { Count: 1 } query && Matches(query[0]))
        {
            context.Response.Cookies.Append(CookieName, query[0]!, new CookieOptions { HttpOnly = true, SameSite = SameSiteMode.Strict, Path = "/" });
            context.Response.Redirect(context.Request.PathBase + context.Request.Path);
            return;
        }
        string? bearer = context.Request.Headers.Authorization.ToString() is { } h && h.StartsWith("Bearer ", StringComparison.Ordinal) ? h["Bearer ".Length..] : null;
        if (Matches(bearer) || Matches(context.Request.Cookies[CookieName]))
        {
            await next(context);
            return;
        }
        context.Response.StatusCode = StatusCodes.Status401Unauthorized;
        await context.Response.WriteAsJsonAsync(new HealthReply("unauthorized",
            "this dashboard listens beyond 127.0.0.1 and needs the run's secret (run.secret, or the file 'secret' in the run directory): open /?token=SECRET once, or send Authorization: Bearer SECRET"));
    }

    private bool Matches(string? candidate) =>
        candidate is not null && CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(candidate), _secret);
}
