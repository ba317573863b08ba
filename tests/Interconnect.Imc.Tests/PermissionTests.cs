using Interconnect.Testing;

namespace Interconnect.Imc.Tests;

/// <summary>
/// Group rights: a region or lock set made by one user with group rights is usable by another user of the same group
/// and refused to a user outside it. The peers run as other users (setpriv): nobody and _apt share the group nogroup;
/// www-data is outside it.
/// </summary>
public sealed class PermissionTests
{
    private const string Owner = "nobody:nogroup";
    private const string GroupMember = "_apt:nogroup";
    private const string Outsider = "www-data:www-data";
    private TemporaryCluster _cluster = null!;

    [SetUp]
    public void SetUp() => _cluster = TemporaryCluster.Create("alpha", "beta", "gamma");

    [TearDown]
    public void TearDown() => _cluster.Dispose();

    [Test]
    [Category(DotnetProcess.AsAnotherUser)]
    public void ShouldLetAUserOfTheGroupUseARegionWithGroupRightsAndRefuseAnOutsider()
    {
        var owner = _cluster.StartPeer("alpha", Owner);
        owner.Send($"alloc 5 8192 {Convert.ToString((int)(ImcPermissions.UserReadWrite | ImcPermissions.GroupReadWrite), 8)}");
        owner.Send("tx 5");
        var member = _cluster.StartPeer("beta", GroupMember);
        var outsider = _cluster.StartPeer("gamma", Outsider);

        member.Send("alloc 5 8192");
        member.Send("rx 5");
        owner.Send("write64 5 16 77");
        var refused = outsider.Ask("alloc 5 8192");

        Assert.That(member.Send("wait64 5 16 77 10000"), Is.EqualTo("77"));
        Assert.That(refused.Status, Is.EqualTo(nameof(ImcStatus.Permit)), refused.Text);
        var file = _cluster.ReceiveFiles().Single();
        Assert.That(member.Send($"try-open {file}"), Is.EqualTo("opened"));
        Assert.That(outsider.Send($"try-open {file}"), Is.EqualTo("denied"));
    }

    [Test]
    [Category(DotnetProcess.AsAnotherUser)]
    public void ShouldLetAUserOfTheGroupTakeLocksOfASetWithGroupRightsAndRefuseAnOutsider()
    {
        var owner = _cluster.StartPeer("alpha", Owner);
        owner.Send($"lkalloc 8 2 {(int)(ImcLockPermissions.User | ImcLockPermissions.Group)}");
        owner.Send("acquire 8 0");
        var member = _cluster.StartPeer("beta", GroupMember);
        var outsider = _cluster.StartPeer("gamma", Outsider);

        member.Send("lkalloc 8 2");
        var refused = outsider.Ask("lkalloc 8 2");

        Assert.That(member.Send("tryacquire 8 0"), Is.EqualTo("busy"));
        Assert.That(member.Send("tryacquire 8 1"), Is.EqualTo("got"));
        Assert.That(refused.Status, Is.EqualTo(nameof(ImcStatus.Permit)), refused.Text);
    }
}
