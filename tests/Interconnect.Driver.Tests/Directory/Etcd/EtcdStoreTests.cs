using Interconnect.Driver.Directory.Etcd;
using Interconnect.Testing;

namespace Interconnect.Driver.Tests.Directory.Etcd;

/// <summary>
/// A conditional transaction against an etcd of the test's own, through a proxy that loses the answer: etcd committed
/// it, the client saw the connection break and sent it again, and the retry's compare failed on that very change. The
/// store answers from what etcd holds then, not from the retry's compare.
/// </summary>
[NonParallelizable]
public sealed class EtcdStoreTests
{
    [Test]
    public void ShouldAnswerCommittedWhenTheAnswerOfACommittedTransactionWasLost()
    {
        using var etcd = LocalEtcd.Start();
        using var proxy = new TcpProxy(etcd.ClientPort);
        using var store = new EtcdStore(proxy.Url, "test");
        using var direct = new EtcdStore(etcd.ClientUrl, "test");
        // A call first: the connection is made and past its HTTP/2 settings before the cut is armed.
        Assert.That(store.Get("regions/a"), Is.Null, "no such key yet");
        var connections = proxy.Accepted;

        proxy.CutAtNextAnswer();
        var created = store.CreateAll(0, ("regions/a", "mine"));

        Assert.Multiple(() =>
        {
            Assert.That(created, Is.True, "etcd committed the create on its first attempt: it is the store's own");
            Assert.That(direct.Get("regions/a")?.Value, Is.EqualTo("mine"), "the key, read from etcd directly");
            Assert.That(proxy.Accepted, Is.GreaterThan(connections), "the answer was cut, so the request went again on a new connection");
        });
    }

    [Test]
    public void ShouldAnswerNotCommittedWhenARetriedTransactionFoundAnotherWritersChange()
    {
        using var etcd = LocalEtcd.Start();
        using var proxy = new TcpProxy(etcd.ClientPort);
        using var store = new EtcdStore(proxy.Url, "test");
        using var direct = new EtcdStore(etcd.ClientUrl, "test");
        var seen = direct.Set("regions/a", "theirs");
        _ = direct.Set("regions/a", "theirs again"); // changed since this writer read it
        Assert.That(store.Get("regions/a")?.Value, Is.EqualTo("theirs again"), "a call first, to make the connection");
        var connections = proxy.Accepted;

        proxy.CutAtNextAnswer();
        var changed = store.CompareAndPut("regions/a", "mine", seen);

        Assert.Multiple(() =>
        {
            Assert.That(changed, Is.False, "the compare failed on another writer's change: nothing of this writer's was committed");
            Assert.That(direct.Get("regions/a")?.Value, Is.EqualTo("theirs again"), "the key, read from etcd directly");
            Assert.That(proxy.Accepted, Is.GreaterThan(connections), "the answer was cut, so the request went again on a new connection");
        });
    }
}
