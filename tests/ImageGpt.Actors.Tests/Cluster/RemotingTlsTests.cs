using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Akka.Actor;
using ImageGpt.Actors.Cluster;
using ImageGpt.Actors.Configuration;
using ImageGpt.Actors.Tests.Support;
using ImageGpt.Nn;
using static ImageGpt.Actors.Tests.Training.TrainingFixture;

namespace ImageGpt.Actors.Tests.Cluster;

/// <summary>
/// Akka.Remote over TLS, configured in the run's akka section as README "Cluster" shows it: members with the run's
/// certificate form a cluster; a member without TLS cannot join (one line after cluster.join-timeout).
/// </summary>
[Collection(ClusterMembersCollection.Name)]
public sealed class RemotingTlsTests : IDisposable
{
    private readonly ClusterMembers _members = new();

    public void Dispose() => _members.Dispose();

    /// <summary>A self-signed certificate with its private key, as a password-protected PKCS#12 file.</summary>
    private string Certificate(string password)
    {
        using var key = RSA.Create(2048);
        var request = new CertificateRequest("CN=imagegpt-run", key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1"), new Oid("1.3.6.1.5.5.7.3.2")], false));
        using var certificate = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(1));
        string path = Path.Combine(_members.Dir, "run.pfx");
        File.WriteAllBytes(path, certificate.Export(X509ContentType.Pfx, password));
        return path;
    }

    private ActorSystem Member(ActorSystem? seed, params string[] sets)
    {
        var reference = ConfigFactory.ParseFile(Path.Combine(AppContext.BaseDirectory, "hocon", "reference.conf"));
        var resolved = RunConfigLoader.Layer(reference, null, sets).Resolve();
        AkkaSettings.Validate(resolved);
        return _members.Add(Config(_members.Dir, trainers: 1), resolved, seed);
    }

    [Fact]
    public async Task Members_with_the_runs_certificate_form_a_cluster_over_TLS_and_a_member_without_TLS_cannot_join()
    {
        string pfx = Certificate("tls-test-password");
        // Self-signed here, so the chain is not validated; with a certificate of the run's own CA, leave suppress-validation off.
        string[] tls =
        [
            "akka.remote.dot-netty.tcp.enable-ssl = on", $"akka.remote.dot-netty.tcp.ssl.certificate.path = \"{pfx}\"",
            "akka.remote.dot-netty.tcp.ssl.certificate.password = tls-test-password", "akka.remote.dot-netty.tcp.ssl.suppress-validation = on",
        ];
        var a = Member(null, tls);
        await ClusterNode.JoinAsync(a, TimeSpan.FromSeconds(30)).Bounded();
        var b = Member(a, tls);
        await ClusterNode.JoinAsync(b, TimeSpan.FromSeconds(30)).Bounded();
        await TestRuns.Eventually(() => Akka.Cluster.Cluster.Get(a).State.Members.Count(m => m.Status == Akka.Cluster.MemberStatus.Up) == 2, "the first member sees both Up");

        var plain = Member(a);
        var e = await Assert.ThrowsAsync<UserError>(() => ClusterNode.JoinAsync(plain, TimeSpan.FromSeconds(3)).Bounded());
        Assert.Contains("no member of the run's cluster answered", e.Message);
        Assert.DoesNotContain(Akka.Cluster.Cluster.Get(a).State.Members, m => m.Address == Akka.Cluster.Cluster.Get(plain).SelfAddress);
    }
}
