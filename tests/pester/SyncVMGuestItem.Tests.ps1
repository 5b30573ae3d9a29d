# Sync-VMGuestItem against real agents on this machine (Debian's qemu-ga, and ours): the "guest"
# is this host, so guest paths are temporary folders here too, and against the hostile agent
# program's lying listings. Never writes outside the per-run temporary folder.
#
# The big tree is 200 MiB: four 50 MiB files (sparse, so made in no time and cheap on disk, each
# with a few distinct bytes) and 240 small ones in 4 folders.

BeforeDiscovery {
    Import-Module (Join-Path $env:QEMUGUEST_REPO_ROOT 'tools/LocalAgent.psm1') -Force
    $script:Kinds = @('Stock', 'Ours')
}

BeforeAll {
    Import-Module (Join-Path $env:QEMUGUEST_REPO_ROOT 'tools/LocalAgent.psm1') -Force
    Import-Module $env:QEMUGUEST_MODULE_PATH -Force
    . (Join-Path $PSScriptRoot 'AgentHelpers.ps1')
    . (Join-Path $PSScriptRoot 'CopyTestHelpers.ps1')

    function New-BigTree([string] $Root) {
        for ($i = 0; $i -lt 4; $i++) {
            $null = New-Item -ItemType Directory -Force -Path "$Root/big"
            $f = [IO.File]::Create("$Root/big/b$i.bin")
            try {
                $f.SetLength(50MB)
                foreach ($at in 0, 20MB, (50MB - 1)) { $f.Position = $at; $f.WriteByte([byte](65 + $i)) }
            }
            finally { $f.Dispose() }
        }
        for ($d = 0; $d -lt 4; $d++) {
            $null = New-Item -ItemType Directory -Force -Path "$Root/small/d$d"
            for ($i = 0; $i -lt 60; $i++) {
                [IO.File]::WriteAllText("$Root/small/d$d/f$i.txt", "folder $d file $i " + ('x' * $i))
            }
        }
    }

    function Set-OneByte([string] $Path, [long] $At, [byte] $Value, [switch] $KeepTime) {
        $t = [IO.File]::GetLastWriteTimeUtc($Path)
        $f = [IO.File]::OpenWrite($Path)
        try { $f.Position = $At; $f.WriteByte($Value) } finally { $f.Dispose() }
        if ($KeepTime) { [IO.File]::SetLastWriteTimeUtc($Path, $t) }
        else {
            # The write's own time; a later second makes sure it differs from the synced one even
            # on a file system with coarse times.
            [IO.File]::SetLastWriteTimeUtc($Path, $t.AddSeconds(2))
        }
    }
}

Describe 'Sync-VMGuestItem against the <_> agent' -ForEach $Kinds {
    BeforeAll {
        $script:Kind = $_
        $script:Agent, $script:S = Start-AgentSession -Kind $Kind -Name "sync-$Kind"
        $script:T = Join-Path ([IO.Path]::GetTempPath()) ("qg-sync-" + [guid]::NewGuid().ToString('n').Substring(0, 10))
        $null = New-Item -ItemType Directory -Path $T
    }

    AfterAll {
        Stop-AgentSession $Agent -AllSessions
        Remove-Item -Recurse -Force $T -ErrorAction SilentlyContinue
    }

    BeforeEach {
        $script:W = Join-Path $T ([guid]::NewGuid().ToString('n').Substring(0, 8))
        $null = New-Item -ItemType Directory -Path $W
    }

    Context 'a 200 MiB tree' {
        BeforeAll {
            $script:Big = Join-Path $T 'big-local'
            New-BigTree $Big
        }

        It 'LocalToGuest: copies the tree, then moves 0 bytes on a second run, then only the one file with one changed byte' {
            $first = Sync-VMGuestItem -Session $S -LocalPath $Big -GuestPath "$W/guest" -LocalToGuest
            $first.Copied.Count | Should -Be 244
            $first.BytesMoved | Should -Be (200MB + ((0..59 | ForEach-Object { "folder 0 file $_ ".Length + $_ } | Measure-Object -Sum).Sum * 4))
            $first.Failed | Should -Be 0
            (Get-TreeState "$W/guest") | Should -Be (Get-TreeState $Big)

            $second = Sync-VMGuestItem -Session $S -LocalPath $Big -GuestPath "$W/guest" -LocalToGuest
            $second.BytesMoved | Should -Be 0
            $second.Copied | Should -BeNullOrEmpty
            $second.Skipped | Should -Be 244
            # Size and time were enough: nothing was hashed.
            $second.Hashed | Should -Be 0

            Set-OneByte "$Big/big/b2.bin" -At 30MB -Value 7
            try {
                $third = Sync-VMGuestItem -Session $S -LocalPath $Big -GuestPath "$W/guest" -LocalToGuest
                $third.Copied | Should -Be @('big/b2.bin')
                $third.BytesMoved | Should -Be 50MB
                $third.Skipped | Should -Be 243
                $third.Hashed | Should -Be 1
                (Get-FileHash "$W/guest/big/b2.bin").Hash | Should -Be (Get-FileHash "$Big/big/b2.bin").Hash
            }
            finally { Set-OneByte "$Big/big/b2.bin" -At 30MB -Value 0 }
        }

        It 'GuestToLocal: copies the tree, then moves 0 bytes on a second run, then only the one file with one changed byte' {
            $null = New-Item -ItemType Directory -Path "$W/guest"
            New-BigTree "$W/guest"
            $first = Sync-VMGuestItem -Session $S -LocalPath "$W/local" -GuestPath "$W/guest" -GuestToLocal
            $first.Copied.Count | Should -Be 244
            $first.Failed | Should -Be 0
            (Get-TreeState "$W/local") | Should -Be (Get-TreeState "$W/guest")

            $second = Sync-VMGuestItem -Session $S -LocalPath "$W/local" -GuestPath "$W/guest" -GuestToLocal
            $second.BytesMoved | Should -Be 0
            $second.Copied | Should -BeNullOrEmpty
            $second.Hashed | Should -Be 0

            Set-OneByte "$W/guest/small/d3/f59.txt" -At 3 -Value 90
            $third = Sync-VMGuestItem -Session $S -LocalPath "$W/local" -GuestPath "$W/guest" -GuestToLocal
            $third.Copied | Should -Be @('small/d3/f59.txt')
            $third.BytesMoved | Should -Be (Get-Item "$W/guest/small/d3/f59.txt").Length
            (Get-Content -Raw "$W/local/small/d3/f59.txt") | Should -BeLike 'fol*'
            (Get-FileHash "$W/local/small/d3/f59.txt").Hash | Should -Be (Get-FileHash "$W/guest/small/d3/f59.txt").Hash
        }
    }

    Context 'deciding what changed' {
        It 'a changed byte with the same size and time is left alone by default and copied with -Checksum' {
            New-TestTree "$W/local"
            $null = Sync-VMGuestItem -Session $S -LocalPath "$W/local" -GuestPath "$W/guest" -LocalToGuest
            Set-OneByte "$W/local/sub/deeper/d.bin" -At 10 -Value 0 -KeepTime
            $plain = Sync-VMGuestItem -Session $S -LocalPath "$W/local" -GuestPath "$W/guest" -LocalToGuest
            $plain.Copied | Should -BeNullOrEmpty
            $sum = Sync-VMGuestItem -Session $S -LocalPath "$W/local" -GuestPath "$W/guest" -LocalToGuest -Checksum
            $sum.Copied | Should -Be @('sub/deeper/d.bin')
            $sum.Hashed | Should -Be 4
            $sum.BytesMoved | Should -Be 256
            [IO.File]::ReadAllBytes("$W/guest/sub/deeper/d.bin")[10] | Should -Be 0
        }

        It 'a touched file with the same content is hashed once, not copied, and gets the source''s time' {
            New-TestTree "$W/local"
            $null = Sync-VMGuestItem -Session $S -LocalPath "$W/local" -GuestPath "$W/guest" -LocalToGuest
            [IO.File]::SetLastWriteTimeUtc("$W/local/a.txt", [datetime]::UtcNow.AddHours(-3))
            $r = Sync-VMGuestItem -Session $S -LocalPath "$W/local" -GuestPath "$W/guest" -LocalToGuest
            $r.Copied | Should -BeNullOrEmpty
            $r.Hashed | Should -Be 1
            [IO.File]::GetLastWriteTimeUtc("$W/guest/a.txt") | Should -Be ([IO.File]::GetLastWriteTimeUtc("$W/local/a.txt"))
            (Sync-VMGuestItem -Session $S -LocalPath "$W/local" -GuestPath "$W/guest" -LocalToGuest).Hashed | Should -Be 0
        }

        It 'gives each copied file its source''s modification time, both ways' {
            New-TestTree "$W/local"
            [IO.File]::SetLastWriteTimeUtc("$W/local/a.txt", [datetime]::SpecifyKind([datetime]::new(2020, 2, 3, 4, 5, 6, 789), 'Utc').AddTicks(1234))
            $null = Sync-VMGuestItem -Session $S -LocalPath "$W/local" -GuestPath "$W/guest" -LocalToGuest
            [IO.File]::GetLastWriteTimeUtc("$W/guest/a.txt") | Should -Be ([IO.File]::GetLastWriteTimeUtc("$W/local/a.txt"))
            $null = Sync-VMGuestItem -Session $S -LocalPath "$W/back" -GuestPath "$W/guest" -GuestToLocal
            [IO.File]::GetLastWriteTimeUtc("$W/back/a.txt") | Should -Be ([IO.File]::GetLastWriteTimeUtc("$W/local/a.txt"))
        }
    }

    Context '-Delete' {
        It 'LocalToGuest: removes the guest''s extra files and folders only with -Delete, and replaces a folder by a file' {
            New-TestTree "$W/local"
            $null = Sync-VMGuestItem -Session $S -LocalPath "$W/local" -GuestPath "$W/guest" -LocalToGuest
            $null = New-Item -ItemType Directory -Path "$W/guest/extra/inner", "$W/guest/a-folder"
            Set-Content "$W/guest/extra/inner/x.txt" 'x'
            Set-Content "$W/guest/sub/old.txt" 'old'
            Set-Content "$W/local/a-folder" 'now a file'
            $keep = Sync-VMGuestItem -Session $S -LocalPath "$W/local" -GuestPath "$W/guest" -LocalToGuest -ErrorVariable err -ErrorAction SilentlyContinue
            $keep.Deleted | Should -BeNullOrEmpty
            $keep.Failed | Should -Be 1
            $err[0].FullyQualifiedErrorId | Should -BeLike 'DestinationIsDirectory*'
            "$W/guest/sub/old.txt" | Should -Exist
            $gone = Sync-VMGuestItem -Session $S -LocalPath "$W/local" -GuestPath "$W/guest" -LocalToGuest -Delete
            @($gone.Deleted | Sort-Object) | Should -Be @('a-folder', 'extra', 'sub/old.txt')
            $gone.Copied | Should -Be @('a-folder')
            $gone.Failed | Should -Be 0
            (Get-TreeState "$W/guest") | Should -Be (Get-TreeState "$W/local")
        }

        It 'GuestToLocal: removes the local extra files and folders only with -Delete' {
            New-TestTree "$W/guest"
            $null = Sync-VMGuestItem -Session $S -LocalPath "$W/local" -GuestPath "$W/guest" -GuestToLocal
            $null = New-Item -ItemType Directory -Path "$W/local/extra"
            Set-Content "$W/local/extra/x.txt" 'x'
            Set-Content "$W/local/empty/y.txt" 'y'
            (Sync-VMGuestItem -Session $S -LocalPath "$W/local" -GuestPath "$W/guest" -GuestToLocal).Deleted | Should -BeNullOrEmpty
            "$W/local/extra/x.txt" | Should -Exist
            $gone = Sync-VMGuestItem -Session $S -LocalPath "$W/local" -GuestPath "$W/guest" -GuestToLocal -Delete
            @($gone.Deleted | Sort-Object) | Should -Be @('empty/y.txt', 'extra')
            (Get-TreeState "$W/local") | Should -Be (Get-TreeState "$W/guest")
        }
    }

    Context '-WhatIf' {
        It 'changes nothing on either side, both ways, and lists every copy, deletion and folder' {
            New-TestTree "$W/local"
            $null = Sync-VMGuestItem -Session $S -LocalPath "$W/local" -GuestPath "$W/guest" -LocalToGuest
            Set-Content "$W/local/new.txt" 'new'
            Set-OneByte "$W/local/sub/c.txt" -At 0 -Value 67
            $null = New-Item -ItemType Directory -Path "$W/local/newdir/in"
            Set-Content "$W/local/newdir/in/n.txt" 'n'
            Set-Content "$W/guest/sub/extra.txt" 'extra'
            $localBefore = Get-TreeState "$W/local"; $guestBefore = Get-TreeState "$W/guest"
            $r = Sync-VMGuestItem -Session $S -LocalPath "$W/local" -GuestPath "$W/guest" -LocalToGuest -Delete -WhatIf
            $r.BytesMoved | Should -Be 0
            $r.Copied | Should -BeNullOrEmpty
            $r.Deleted | Should -BeNullOrEmpty
            $null = Sync-VMGuestItem -Session $S -LocalPath "$W/local" -GuestPath "$W/guest" -GuestToLocal -Delete -WhatIf
            $null = Sync-VMGuestItem -Session $S -LocalPath "$W/nowhere" -GuestPath "$W/guest" -GuestToLocal -WhatIf
            (Get-TreeState "$W/local") | Should -Be $localBefore
            (Get-TreeState "$W/guest") | Should -Be $guestBefore
            "$W/nowhere" | Should -Not -Exist

            # What -WhatIf prints goes to the host: a child pwsh's output shows it. An agent
            # socket serves one client at a time: the child gets an agent of its own.
            $other = Start-LocalAgent -Kind $Kind
            try {
                $script = @"
`$ProgressPreference = 'SilentlyContinue'
Import-Module '$($env:QEMUGUEST_MODULE_PATH)'
`$s = New-VMGuestSession -ConnectionString '$($other.ConnectionString)' -Name whatif
`$null = Sync-VMGuestItem -Session `$s -LocalPath '$W/local' -GuestPath '$W/guest' -LocalToGuest -Delete -WhatIf
"@
                $out = & (Join-Path $PSHOME 'pwsh') -NoProfile -NonInteractive -Command $script 2>&1 | Out-String
            }
            finally { $other | Stop-LocalAgent }
            Write-Host $out
            $out | Should -Match ([regex]::Escape("""whatif:$W/guest/new.txt"""))
            $out | Should -Match ([regex]::Escape("Replace with '$W/local/sub/c.txt'"))
            $out | Should -Match ([regex]::Escape("""whatif:$W/guest/newdir"""))
            $out | Should -Match ([regex]::Escape("""whatif:$W/guest/newdir/in/n.txt"""))
            $out | Should -Match ([regex]::Escape("Delete guest file"))
            $out | Should -Match ([regex]::Escape("""whatif:$W/guest/sub/extra.txt"""))
            ([regex]::Matches($out, 'What if:')).Count | Should -Be 6
        }
    }

    Context 'links are never followed, hashed, replaced or deleted' {
        It 'GuestToLocal: a guest link to a file and to a folder outside is skipped with a warning, also with -Delete' {
            New-TestTree "$W/guest"
            $null = New-Item -ItemType Directory -Path "$W/outside"
            Set-Content "$W/outside/secret" 'secret'
            $null = New-Item -ItemType SymbolicLink -Path "$W/guest/passwd" -Target "$W/outside/secret"
            $null = New-Item -ItemType SymbolicLink -Path "$W/guest/sub/out" -Target "$W/outside"
            $r = Sync-VMGuestItem -Session $S -LocalPath "$W/local" -GuestPath "$W/guest" -GuestToLocal -Delete -WarningVariable warn -WarningAction SilentlyContinue
            $r.Failed | Should -Be 0
            "$W/local/passwd" | Should -Not -Exist
            "$W/local/sub/out" | Should -Not -Exist
            @($warn | Where-Object { "$_" -like '*is a link: skipped*' }).Count | Should -Be 2
            # A local file where the guest has a link is not the guest's to delete.
            Set-Content "$W/local/passwd" 'mine'
            $null = Sync-VMGuestItem -Session $S -LocalPath "$W/local" -GuestPath "$W/guest" -GuestToLocal -Delete -WarningAction SilentlyContinue
            Get-Content "$W/local/passwd" | Should -Be 'mine'
            Get-Content "$W/outside/secret" | Should -Be 'secret'
        }

        It 'LocalToGuest: a guest link of a name the source has is left alone, and -Delete does not remove it or what it points to' {
            New-TestTree "$W/local"
            $null = New-Item -ItemType Directory -Path "$W/guest", "$W/outside"
            Set-Content "$W/outside/a.txt" 'outside'
            $null = New-Item -ItemType SymbolicLink -Path "$W/guest/a.txt" -Target "$W/outside/a.txt"
            $null = New-Item -ItemType SymbolicLink -Path "$W/guest/extra-link" -Target "$W/outside"
            $r = Sync-VMGuestItem -Session $S -LocalPath "$W/local" -GuestPath "$W/guest" -LocalToGuest -Delete -WarningVariable warn -WarningAction SilentlyContinue
            $r.Copied | Should -Not -Contain 'a.txt'
            $r.Deleted | Should -BeNullOrEmpty
            (Get-Item "$W/guest/a.txt").LinkType | Should -Be 'SymbolicLink'
            (Get-Item "$W/guest/extra-link").LinkType | Should -Be 'SymbolicLink'
            Get-Content "$W/outside/a.txt" | Should -Be 'outside'
            @($warn | Where-Object { "$_" -like '*is a link: skipped*' }).Count | Should -Be 2
        }

        It 'LocalToGuest: a local link is skipped with a warning' {
            New-TestTree "$W/local"
            $null = New-Item -ItemType Directory -Path "$W/outside"
            Set-Content "$W/outside/secret" 'secret'
            $null = New-Item -ItemType SymbolicLink -Path "$W/local/lnk" -Target "$W/outside/secret"
            $r = Sync-VMGuestItem -Session $S -LocalPath "$W/local" -GuestPath "$W/guest" -LocalToGuest -WarningVariable warn -WarningAction SilentlyContinue
            $r.Copied | Should -Not -Contain 'lnk'
            "$W/guest/lnk" | Should -Not -Exist
            @($warn | Where-Object { "$_" -like "*'$W/local/lnk' is a link: skipped*" }).Count | Should -Be 1
        }
    }

    Context 'bad invocations' {
        It 'a relative guest path is RelativeGuestPath, and nothing is made' {
            New-TestTree "$W/local"
            { Sync-VMGuestItem -Session $S -LocalPath "$W/local" -GuestPath 'srv/x' -LocalToGuest -ErrorAction Stop } | Should -Throw -ErrorId 'RelativeGuestPath*'
        }

        It 'a missing guest folder with -GuestToLocal is SourceNotFound naming it' {
            $e = { Sync-VMGuestItem -Session $S -LocalPath "$W/local" -GuestPath "$W/none" -GuestToLocal -ErrorAction Stop } | Should -Throw -PassThru
            $e.FullyQualifiedErrorId | Should -BeLike 'SourceNotFound*'
            $e.Exception.Message | Should -BeLike "*$W/none*"
            "$W/local" | Should -Not -Exist
        }

        It 'needs exactly one direction' {
            { Sync-VMGuestItem -Session $S -LocalPath "$W" -GuestPath "$W/g" -ErrorAction Stop } | Should -Throw -ErrorId 'InvalidArgument*'
        }
    }
}

Describe 'Sync-VMGuestItem against hostile listings' {
    BeforeAll {
        $script:T = Join-Path ([IO.Path]::GetTempPath()) ("qg-sync-hostile-" + [guid]::NewGuid().ToString('n').Substring(0, 10))
        $null = New-Item -ItemType Directory -Path $T
        $script:Hostile, $script:H = Start-AgentSession -Kind Hostile -Name hostile -ConnectTimeoutSec 5
        function Set-Mode([string] $Mode) { Set-Content -Path $Hostile.ModeFile -Value $Mode }
    }

    AfterAll {
        Stop-AgentSession $script:Hostile -AllSessions
        Remove-Item -Recurse -Force $T -ErrorAction SilentlyContinue
    }

    BeforeEach {
        $script:W = Join-Path $T ([guid]::NewGuid().ToString('n').Substring(0, 8))
        $null = New-Item -ItemType Directory -Path "$W/dest"
    }

    AfterEach {
        Set-Mode 'normal'
        if ($script:L) { Remove-VMGuestSession -Session $L -Confirm:$false; $script:L = $null }
    }

    It '<Mode> GuestToLocal -Delete: names that are not one component are InvalidGuestName; nothing is written or deleted outside the target' -ForEach @(
        @{ Mode = 'list-names' }, @{ Mode = 'find-names' }
    ) {
        Set-Mode $Mode
        $script:L = New-VMGuestSession -ConnectionString "unix:$($Hostile.Socket)" -Name hostile -ConnectTimeoutSec 5
        # Things a lying listing would like to reach: beside the target, and above it.
        Set-Content "$W/x" 'keep'
        Set-Content "$W/dest/keep-beside" 'keep'
        $r = Sync-VMGuestItem -Session $L -LocalPath "$W/dest/tree" -GuestPath "$W/tree" -GuestToLocal -Delete -TimeoutSec 5 -ErrorVariable err -ErrorAction SilentlyContinue
        $ids = @($err | ForEach-Object { $_.FullyQualifiedErrorId.Split(',')[0] })
        Write-Host "    $Mode -> $($ids -join ' ')"
        @(Get-ChildItem -Recurse -Force $W | Where-Object { -not $_.FullName.StartsWith("$W/dest/tree") } | ForEach-Object FullName | Sort-Object) |
            Should -Be @("$W/dest", "$W/dest/keep-beside", "$W/x")
        Get-Content "$W/x" | Should -Be 'keep'
        "$W/tree-abs" | Should -Not -Exist
        "$W/dest/tree/good.txt" | Should -Exist
        "$W/dest/tree/a" | Should -Not -Exist
        $ids | Should -Contain 'InvalidGuestName'
        ($err | Where-Object { $_.FullyQualifiedErrorId -like 'InvalidGuestName*' }).Count | Should -BeGreaterOrEqual 5
        $r.Failed | Should -Be $err.Count
        foreach ($e in $err) {
            $e.Exception.Message | Should -Not -Match "[`u{0}-`u{8}`u{b}-`u{1f}`u{7f}]"
        }
    }

    It 'list-names LocalToGuest -Delete: the only deletions asked of the guest are of one-component names inside the target' {
        Set-Mode 'list-names'
        $script:L = New-VMGuestSession -ConnectionString "unix:$($Hostile.Socket)" -Name hostile -ConnectTimeoutSec 5
        $null = New-Item -ItemType Directory -Path "$W/empty"
        # This agent has no remove extension and no guest-exec: every removal it is asked for
        # fails with AgentFeatureUnavailable naming its path, which shows exactly what was asked.
        $r = Sync-VMGuestItem -Session $L -LocalPath "$W/empty" -GuestPath "$W/tree" -LocalToGuest -Delete -TimeoutSec 5 -ErrorVariable err -ErrorAction SilentlyContinue
        $ids = @($err | ForEach-Object { $_.FullyQualifiedErrorId.Split(',')[0] })
        Write-Host "    -> $($ids -join ' ')"
        $asked = @($err | Where-Object { $_.FullyQualifiedErrorId -like 'AgentFeatureUnavailable*' } | ForEach-Object { "$($_.TargetObject)" })
        $asked.Count | Should -BeGreaterThan 0
        foreach ($a in $asked) {
            $a | Should -Match ('^(hostile:)?' + [regex]::Escape("$W/tree/") + '[^/\\]+$')
            $a | Should -Not -Match '/\.\.?$'
        }
        ($err | Where-Object { $_.FullyQualifiedErrorId -like 'InvalidGuestName*' }).Count | Should -BeGreaterOrEqual 5
        $ids | Should -Contain 'DuplicateGuestName'
        $r.Deleted | Should -BeNullOrEmpty
    }

    # The listing of a folder is checked whole before anything in it is touched: paging that
    # never ends fails at the first folder, so nothing is deleted. Folders nested forever are
    # synced (made empty, locally) down to the depth bound, inside the target only.
    It '<Mode>: an endless listing stops the sync with <Id>, within the target only' -ForEach @(
        @{ Mode = 'list-recurse'; Id = 'ListingLimitExceeded'; Kept = $false }
        @{ Mode = 'list-paging-endless'; Id = 'ListingLimitExceeded'; Kept = $true }
        @{ Mode = 'list-paging-stuck'; Id = 'InvalidGuestListing'; Kept = $true }
    ) {
        Set-Mode $Mode
        $script:L = New-VMGuestSession -ConnectionString "unix:$($Hostile.Socket)" -Name hostile -ConnectTimeoutSec 5
        Set-Content "$W/keep-beside" 'keep'
        Set-Content "$W/dest/keep" 'keep'
        $r = Sync-VMGuestItem -Session $L -LocalPath "$W/dest" -GuestPath "$W/tree" -GuestToLocal -Delete -TimeoutSec 10 -ErrorVariable err -ErrorAction SilentlyContinue
        $r | Should -BeNullOrEmpty
        @($err | ForEach-Object { $_.FullyQualifiedErrorId.Split(',')[0] }) | Should -Be @($Id)
        $err[0].Exception.Message | Should -BeLike "hostile: *"
        Get-Content "$W/keep-beside" | Should -Be 'keep'
        @(Get-ChildItem -Force $W | ForEach-Object Name | Sort-Object) | Should -Be @('dest', 'keep-beside')
        Test-Path "$W/dest/keep" | Should -Be $Kept
    }
}
