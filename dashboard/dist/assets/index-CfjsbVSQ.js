(function(){let e=document.createElement(`link`).relList;if(e&&e.supports&&e.supports(`modulepreload`))return;for(let e of document.querySelectorAll(`link[rel="modulepreload"]`))n(e);new MutationObserver(e=>{for(let t of e)if(t.type===`childList`)for(let e of t.addedNodes)e.tagName===`LINK`&&e.rel===`modulepreload`&&n(e)}).observe(document,{childList:!0,subtree:!0});function t(e){let t={};return e.integrity&&(t.integrity=e.integrity),e.referrerPolicy&&(t.referrerPolicy=e.referrerPolicy),t.credentials=e.crossOrigin===`use-credentials`?`include`:e.crossOrigin===`anonymous`?`omit`:`same-origin`,t}function n(e){if(e.ep)return;e.ep=!0;let n=t(e);fetch(e.href,n)}})();var e,t,n,r,i,a,o,s,c,l,u,d,f,p,m={},h=[],g=/acit|ex(?:s|g|n|p|$)|rph|grid|ows|mnc|ntw|ine[ch]|zoo|^ord|itera/i,_=Array.isArray;function v(e,t){for(var n in t)e[n]=t[n];return e}function y(e){e&&e.parentNode&&e.parentNode.removeChild(e)}function b(t,n,r){var i,a,o,s={};for(o in n)o==`key`?i=n[o]:o==`ref`?a=n[o]:s[o]=n[o];if(arguments.length>2&&(s.children=arguments.length>3?e.call(arguments,2):r),typeof t==`function`&&t.defaultProps!=null)for(o in t.defaultProps)s[o]===void 0&&(s[o]=t.defaultProps[o]);return x(t,s,i,a,null)}function x(e,r,i,a,o){var s={type:e,props:r,key:i,ref:a,__k:null,__:null,__b:0,__e:null,__c:null,constructor:void 0,__v:o??++n,__i:-1,__u:0};return o==null&&t.vnode!=null&&t.vnode(s),s}function S(e){return e.children}function C(e,t){this.props=e,this.context=t}function w(e,t){if(t==null)return e.__?w(e.__,e.__i+1):null;for(var n;t<e.__k.length;t++)if((n=e.__k[t])!=null&&n.__e!=null)return n.__e;return typeof e.type==`function`?w(e):null}function ee(e){if(e.__P&&e.__d){var n=e.__v,r=n.__e,i=[],a=[],o=v({},n);o.__v=n.__v+1,t.vnode&&t.vnode(o),re(e.__P,o,n,e.__n,e.__P.namespaceURI,32&n.__u?[r]:null,i,r??w(n),!!(32&n.__u),a),o.__v=n.__v,o.__.__k[o.__i]=o,ae(i,o,a),n.__e=n.__=null,o.__e!=r&&T(o)}}function T(e){if((e=e.__)!=null&&e.__c!=null)return e.__e=e.__c.base=null,e.__k.some(function(t){if(t!=null&&t.__e!=null)return e.__e=e.__c.base=t.__e}),T(e)}function E(e){(!e.__d&&(e.__d=!0)&&r.push(e)&&!D.__r++||i!=t.debounceRendering)&&((i=t.debounceRendering)||a)(D)}function D(){try{for(var e,t=1;r.length;)r.length>t&&r.sort(o),e=r.shift(),t=r.length,ee(e)}finally{r.length=D.__r=0}}function te(e,t,n,r,i,a,o,s,c,l,u){var d,f,p,g,_,v,y=r&&r.__k||h,b=t.length;for(c=O(n,t,y,c,b),d=0;d<b;d++)(p=n.__k[d])!=null&&(f=p.__i!=-1&&y[p.__i]||m,p.__i=d,v=re(e,p,f,i,a,o,s,c,l,u),g=p.__e,p.ref&&f.ref!=p.ref&&(f.ref&&ce(f.ref,null,p),u.push(p.ref,p.__c||g,p)),_==null&&g!=null&&(_=g),4&p.__u?(c=k(p,c,e),f.__e&&(f.__e=null)):typeof p.type==`function`&&v!==void 0?c=v:g&&(c=g.nextSibling),p.__u&=-7);return n.__e=_,c}function O(e,t,n,r,i){var a,o,s,c,l,u=n.length,d=u,f=0;for(e.__k=Array(i),a=0;a<i;a++)(o=t[a])!=null&&typeof o!=`boolean`&&typeof o!=`function`?(typeof o==`string`||typeof o==`number`||typeof o==`bigint`||o.constructor==String?o=e.__k[a]=x(null,o,null,null,null):_(o)?o=e.__k[a]=x(S,{children:o},null,null,null):o.constructor===void 0&&o.__b>0?o=e.__k[a]=x(o.type,o.props,o.key,o.ref?o.ref:null,o.__v):e.__k[a]=o,c=a+f,o.__=e,o.__b=e.__b+1,s=null,(l=o.__i=ne(o,n,c,d))!=-1&&(d--,(s=n[l])&&(s.__u|=2)),s==null||s.__v==null?(l==-1&&(i>u?f--:i<u&&f++),typeof o.type!=`function`&&(o.__u|=4)):l!=c&&(l==c-1?f--:l==c+1?f++:(l>c?f--:f++,o.__u|=4))):e.__k[a]=null;if(d)for(a=0;a<u;a++)(s=n[a])!=null&&!(2&s.__u)&&(s.__e==r&&(r=w(s)),le(s,s));return r}function k(e,t,n){var r,i;if(typeof e.type==`function`){for(r=e.__k,i=0;r&&i<r.length;i++)r[i]&&(r[i].__=e,t=k(r[i],t,n));return t}e.__e!=t&&(t&&e.type&&!t.parentNode&&(t=w(e)),t=n.insertBefore(e.__e,t||null));do t&&=t.nextSibling;while(t!=null&&t.nodeType==8);return t}function ne(e,t,n,r){var i,a,o,s=e.key,c=e.type,l=t[n],u=l!=null&&!(2&l.__u);if(l===null&&s==null||u&&s==l.key&&c==l.type)return n;if(r>+!!u){for(i=n-1,a=n+1;i>=0||a<t.length;)if((l=t[o=i>=0?i--:a++])!=null&&!(2&l.__u)&&s==l.key&&c==l.type)return o}return-1}function A(e,t,n){t[0]==`-`?e.setProperty(t,n??``):e[t]=n==null?``:typeof n!=`number`||g.test(t)?n:n+`px`}function j(e,t,n,r,i){var a,o;e:if(t==`style`){if(typeof n==`string`)e.style.cssText=n;else{if(typeof r==`string`&&(e.style.cssText=r=``),r)for(t in r)n&&t in n||A(e.style,t,``);if(n)for(t in n)r&&n[t]==r[t]||A(e.style,t,n[t])}}else if(t[0]==`o`&&t[1]==`n`)a=t!=(t=t.replace(u,`$1`)),o=t.toLowerCase(),t=o in e||t==`onFocusOut`||t==`onFocusIn`?o.slice(2):t.slice(2),e.l||={},e.l[t+a]=n,n?r?n[l]=r[l]:(n[l]=d,e.addEventListener(t,a?p:f,a)):e.removeEventListener(t,a?p:f,a);else{if(i==`http://www.w3.org/2000/svg`)t=t.replace(/xlink(H|:h)/,`h`).replace(/sName$/,`s`);else if(t!=`width`&&t!=`height`&&t!=`href`&&t!=`list`&&t!=`form`&&t!=`tabIndex`&&t!=`download`&&t!=`rowSpan`&&t!=`colSpan`&&t!=`role`&&t!=`popover`&&t in e)try{e[t]=n??``;break e}catch{}typeof n==`function`||(n==null||!1===n&&t[4]!=`-`?e.removeAttribute(t):e.setAttribute(t,t==`popover`&&n==1?``:n))}}function M(e){return function(n){if(this.l){var r=this.l[n.type+e];if(n[c]==null)n[c]=d++;else if(n[c]<r[l])return;return r(t.event?t.event(n):n)}}}function re(e,n,r,i,a,o,s,c,l,u){var d,f,p,m,g,b,x,ee,T,E,D,O,k,ne,A,j,M=n.type;if(n.constructor!==void 0)return null;128&r.__u&&(l=!!(32&r.__u),o=[c=n.__e=r.__e]),(d=t.__b)&&d(n);e:if(typeof M==`function`){f=s.length;try{if(T=n.props,E=M.prototype&&M.prototype.render,D=(d=M.contextType)&&i[d.__c],O=d?D?D.props.value:d.__:i,r.__c?ee=(p=n.__c=r.__c).__=p.__E:(E?n.__c=p=new M(T,O):(n.__c=p=new C(T,O),p.constructor=M,p.render=ue),D&&D.sub(p),p.state||(p.state={}),p.__n=i,m=p.__d=!0,p.__h=[],p._sb=[]),E&&p.__s==null&&(p.__s=p.state),E&&M.getDerivedStateFromProps!=null&&(p.__s==p.state&&(p.__s=v({},p.__s)),v(p.__s,M.getDerivedStateFromProps(T,p.__s))),g=p.props,b=p.state,p.__v=n,m)E&&M.getDerivedStateFromProps==null&&p.componentWillMount!=null&&p.componentWillMount(),E&&p.componentDidMount!=null&&p.__h.push(p.componentDidMount);else{if(E&&M.getDerivedStateFromProps==null&&T!==g&&p.componentWillReceiveProps!=null&&p.componentWillReceiveProps(T,O),n.__v==r.__v||!p.__e&&p.shouldComponentUpdate!=null&&!1===p.shouldComponentUpdate(T,p.__s,O)){n.__v!=r.__v&&(p.props=T,p.state=p.__s,p.__d=!1),n.__e=r.__e,n.__k=r.__k,n.__k.some(function(e){e&&(e.__=n)}),h.push.apply(p.__h,p._sb),p._sb=[],p.__h.length&&s.push(p),c=w(r);break e}p.componentWillUpdate!=null&&p.componentWillUpdate(T,p.__s,O),E&&p.componentDidUpdate!=null&&p.__h.push(function(){p.componentDidUpdate(g,b,x)})}if(p.context=O,p.props=T,p.__P=e,p.__e=!1,k=t.__r,ne=0,E)p.state=p.__s,p.__d=!1,k&&k(n),d=p.render(p.props,p.state,p.context),h.push.apply(p.__h,p._sb),p._sb=[];else do p.__d=!1,k&&k(n),d=p.render(p.props,p.state,p.context),p.state=p.__s;while(p.__d&&++ne<25);p.state=p.__s,p.getChildContext!=null&&(i=v(v({},i),p.getChildContext())),E&&!m&&p.getSnapshotBeforeUpdate!=null&&(x=p.getSnapshotBeforeUpdate(g,b)),A=d!=null&&d.type===S&&d.key==null?oe(d.props.children):d,c=te(e,_(A)?A:[A],n,r,i,a,o,s,c,l,u),p.base=n.__e,n.__u&=-161,p.__h.length&&s.push(p),ee&&(p.__E=p.__=null)}catch(e){if(s.length=f,n.__v=null,l||o!=null){if(e.then){for(n.__u|=l?160:128;c&&c.nodeType==8&&c.nextSibling;)c=c.nextSibling;o!=null&&(o[o.indexOf(c)]=null),n.__e=c}else if(o!=null)for(j=o.length;j--;)y(o[j])}else n.__e=r.__e;n.__k??=r.__k||[],e.then||ie(n),t.__e(e,n,r)}}else o==null&&n.__v==r.__v?(n.__k=r.__k,n.__e=r.__e):c=n.__e=se(r.__e,n,r,i,a,o,s,l,u);return(d=t.diffed)&&d(n),128&n.__u?void 0:c}function ie(e){e&&(e.__c&&(e.__c.__e=!0),e.__k&&e.__k.some(ie))}function ae(e,n,r){for(var i=0;i<r.length;i++)ce(r[i],r[++i],r[++i]);t.__c&&t.__c(n,e),e.some(function(n){try{e=n.__h,n.__h=[],e.some(function(e){e.call(n)})}catch(e){t.__e(e,n.__v)}})}function oe(e){return typeof e!=`object`||!e||e.__b>0?e:_(e)?e.map(oe):e.constructor===void 0?v({},e):null}function se(n,r,i,a,o,s,c,l,u){var d,f,p,h,g,v,b,x=i.props||m,S=r.props,C=r.type;if(C==`svg`?o=`http://www.w3.org/2000/svg`:C==`math`?o=`http://www.w3.org/1998/Math/MathML`:o||=`http://www.w3.org/1999/xhtml`,s!=null){for(d=0;d<s.length;d++)if((g=s[d])&&`setAttribute`in g==!!C&&(C?g.localName==C:g.nodeType==3)){n=g,s[d]=null;break}}if(n==null){if(C==null)return document.createTextNode(S);n=document.createElementNS(o,C,S.is&&S),l&&=(t.__m&&t.__m(r,s),!1),s=null}if(C==null)x===S||l&&n.data==S||(n.data=S);else{if(s=C==`textarea`&&S.defaultValue!=null?null:s&&e.call(n.childNodes),!l&&s!=null)for(x={},d=0;d<n.attributes.length;d++)x[(g=n.attributes[d]).name]=g.value;for(d in x)g=x[d],d==`dangerouslySetInnerHTML`?p=g:d==`children`||d in S||d==`value`&&`defaultValue`in S||d==`checked`&&`defaultChecked`in S||j(n,d,null,g,o);for(d in S)g=S[d],d==`children`?h=g:d==`dangerouslySetInnerHTML`?f=g:d==`value`?v=g:d==`checked`?b=g:l&&typeof g!=`function`||x[d]===g||j(n,d,g,x[d],o);if(f)l||p&&(f.__html==p.__html||f.__html==n.innerHTML)||(n.innerHTML=f.__html),r.__k=[];else if(p&&(n.innerHTML=``),te(r.type==`template`?n.content:n,_(h)?h:[h],r,i,a,C==`foreignObject`?`http://www.w3.org/1999/xhtml`:o,s,c,s?s[0]:i.__k&&w(i,0),l,u),s!=null)for(d=s.length;d--;)y(s[d]);l&&C!=`textarea`||(d=`value`,C==`progress`&&v==null?n.removeAttribute(`value`):v!=null&&(v!==n[d]||C==`progress`&&!v||C==`option`&&v!=x[d])&&j(n,d,v,x[d],o),d=`checked`,b!=null&&b!=n[d]&&j(n,d,b,x[d],o))}return n}function ce(e,n,r){try{if(typeof e==`function`){var i=typeof e.__u==`function`;i&&e.__u(),i&&n==null||(e.__u=e(n))}else e.current=n}catch(e){t.__e(e,r)}}function le(e,n,r){var i,a;if(t.unmount&&t.unmount(e),(i=e.ref)&&(i.current&&i.current!=e.__e||ce(i,null,n)),(i=e.__c)!=null){if(i.componentWillUnmount)try{i.componentWillUnmount()}catch(e){t.__e(e,n)}i.base=i.__P=i.__n=null}if(i=e.__k)for(a=0;a<i.length;a++)i[a]&&le(i[a],n,r||typeof e.type!=`function`);r||y(e.__e),e.__c=e.__=e.__e=void 0}function ue(e,t,n){return this.constructor(e,n)}function de(n,r,i){var a,o,s,c;r==document&&(r=document.documentElement),t.__&&t.__(n,r),o=(a=typeof i==`function`)?null:i&&i.__k||r.__k,s=[],c=[],re(r,n=(!a&&i||r).__k=b(S,null,[n]),o||m,m,r.namespaceURI,!a&&i?[i]:o?null:r.firstChild?e.call(r.childNodes):null,s,!a&&i?i:o?o.__e:r.firstChild,a,c),ae(s,n,c),n.props.children=null}e=h.slice,t={__e:function(e,t,n,r){for(var i,a,o;t=t.__;)if((i=t.__c)&&!i.__)try{if((a=i.constructor)&&a.getDerivedStateFromError!=null&&(i.setState(a.getDerivedStateFromError(e)),o=i.__d),i.componentDidCatch!=null&&(i.componentDidCatch(e,r||{}),o=i.__d),o)return i.__E=i}catch(t){e=t}throw e}},n=0,C.prototype.setState=function(e,t){var n=this.__s!=null&&this.__s!=this.state?this.__s:this.__s=v({},this.state);typeof e==`function`&&(e=e(v({},n),this.props)),e&&v(n,e),e!=null&&this.__v&&(t&&this._sb.push(t),E(this))},C.prototype.forceUpdate=function(e){this.__v&&(this.__e=!0,e&&this.__h.push(e),E(this))},C.prototype.render=S,r=[],a=typeof Promise==`function`?Promise.prototype.then.bind(Promise.resolve()):setTimeout,o=function(e,t){return e.__v.__b-t.__v.__b},D.__r=0,s=Math.random().toString(8),c=`__d`+s,l=`__a`+s,u=/(PointerCapture)$|Capture$/i,d=0,f=M(!1),p=M(!0);var N,P,fe,pe,me=0,he=[],F=t,ge=F.__b,_e=F.__r,ve=F.diffed,ye=F.__c,be=F.unmount,xe=F.__;function Se(e,t){F.__h&&F.__h(P,e,me||t),me=0;var n=P.__H||(P.__H={__:[],__h:[]});return e>=n.__.length&&n.__.push({}),n.__[e]}function I(e){return me=1,Ce(je,e)}function Ce(e,t,n){var r=Se(N++,2);if(r.t=e,!r.__c&&(r.__=[n?n(t):je(void 0,t),function(e){var t=r.__N?r.__N[0]:r.__[0],n=r.t(t,e);t!==n&&(r.__N=[n,r.__[1]],r.__c.setState({}))}],r.__c=P,!P.__f)){var i=function(e,t,n){if(!r.__c.__H)return!0;var i=!1,o=r.__c.props!==e;if(r.__c.__H.__.some(function(e){if(e.__N){i=!0;var t=e.__[0];e.__=e.__N,e.__N=void 0,t!==e.__[0]&&(o=!0)}}),a){var s=a.call(this,e,t,n);return i?s||o:s}return!i||o};P.__f=!0;var a=P.shouldComponentUpdate,o=P.componentWillUpdate;P.componentWillUpdate=function(e,t,n){if(this.__e){var r=a;a=void 0,i(e,t,n),a=r}o&&o.call(this,e,t,n)},P.shouldComponentUpdate=i}return r.__N||r.__}function L(e,t){var n=Se(N++,3);!F.__s&&Ae(n.__H,t)&&(n.__=e,n.u=t,P.__H.__h.push(n))}function we(e,t){var n=Se(N++,7);return Ae(n.__H,t)&&(n.__=e(),n.__H=t,n.__h=e),n.__}function Te(e,t){return me=8,we(function(){return e},t)}function Ee(){for(var e;e=he.shift();){var t=e.__H;if(e.__P&&t)try{t.__h.some(R),t.__h.some(ke),t.__h=[]}catch(n){t.__h=[],F.__e(n,e.__v)}}}F.__b=function(e){P=null,ge&&ge(e)},F.__=function(e,t){e&&t.__k&&t.__k.__m&&(e.__m=t.__k.__m),xe&&xe(e,t)},F.__r=function(e){_e&&_e(e),N=0;var t=(P=e.__c).__H;t&&(fe===P?(t.__h=[],P.__h=[],t.__.some(function(e){e.__N&&(e.__=e.__N),e.u=e.__N=void 0})):(t.__h.some(R),t.__h.some(ke),t.__h=[],N=0)),fe=P},F.diffed=function(e){ve&&ve(e);var t=e.__c;t&&t.__H&&(t.__H.__h.length&&(he.push(t)!==1&&pe===F.requestAnimationFrame||((pe=F.requestAnimationFrame)||Oe)(Ee)),t.__H.__.some(function(e){e.u&&=(e.__H=e.u,void 0)})),fe=P=null},F.__c=function(e,t){t.some(function(e){try{e.__h.some(R),e.__h=e.__h.filter(function(e){return!e.__||ke(e)})}catch(n){t.some(function(e){e.__h&&=[]}),t=[],F.__e(n,e.__v)}}),ye&&ye(e,t)},F.unmount=function(e){be&&be(e);var t,n=e.__c;n&&n.__H&&(n.__H.__.some(function(e){try{R(e)}catch(e){t=e}}),n.__H=void 0,t&&F.__e(t,n.__v))};var De=typeof requestAnimationFrame==`function`;function Oe(e){var t,n=function(){clearTimeout(r),De&&cancelAnimationFrame(t),setTimeout(e)},r=setTimeout(n,35);De&&(t=requestAnimationFrame(n))}function R(e){var t=P,n=e.__c;typeof n==`function`&&(e.__c=void 0,n()),P=t}function ke(e){var t=P;e.__c=e.__(),P=t}function Ae(e,t){return!e||e.length!==t.length||t.some(function(t,n){return t!==e[n]})}function je(e,t){return typeof t==`function`?t(e):t}var Me=class extends Error{status;code;constructor(e,t,n){super(n),this.status=e,this.code=t}get notAvailable(){return this.status===501}},Ne=`nija.session`,Pe={down:new Set,session:new Set},z=!1;function Fe(e,t){return Pe[e].add(t),()=>Pe[e].delete(t)}function Ie(e){Pe[e].forEach(e=>e())}function Le(e){z!==e&&(z=e,Ie(`down`))}function B(){try{let e=localStorage.getItem(Ne);return e?JSON.parse(e):null}catch{return null}}function V(e,t=!1){e?localStorage.setItem(Ne,JSON.stringify(e)):localStorage.removeItem(Ne),t&&sessionStorage.setItem(`nija.expired`,`1`),Ie(`session`)}function Re(){let e=sessionStorage.getItem(`nija.expired`)===`1`;return sessionStorage.removeItem(`nija.expired`),e}async function H(e,t,n,r){let i={"content-type":`application/json`};r&&(i.authorization=`Bearer ${r}`);try{let r=await fetch(t,{method:e,headers:i,body:n===void 0?void 0:JSON.stringify(n)});return Le(r.status===502||r.status===503&&t!==`/healthz`),r}catch{throw Le(!0),new Me(0,14,`The NIJA API cannot be reached. Retrying when you act again.`)}}async function U(e){let t=await e.text(),n=null;try{n=t?JSON.parse(t):null}catch{n={message:t}}if(!e.ok)throw new Me(e.status,n?.code??2,n?.message||`HTTP ${e.status}`);return n}var ze=null;function Be(){let e=B();return e?(ze??=(async()=>{try{let t=await H(`POST`,`/api/v1/auth/refresh`,{refresh_token:e.refresh_token});return t.status===401||t.status===400?(V(null,!0),!1):(V(await U(t)),!0)}finally{ze=null}})(),ze):Promise.resolve(!1)}async function W(e,t,n){let r=B()?.access_token,i=await H(e,t,n,r);if(i.status===401&&r){if(await Be())i=await H(e,t,n,B()?.access_token);else throw new Me(401,16,`Your session has expired. Please log in again.`)}return U(i)}async function Ve(e,t){V(await U(await H(`POST`,`/api/v1/auth/login`,{email:e,password:t})))}async function He(e,t){await U(await H(`POST`,`/api/v1/auth/register`,{email:e,password:t}))}async function Ue(){let e=B();if(e)try{await W(`POST`,`/api/v1/auth/logout`,{refresh_token:e.refresh_token})}catch{}V(null)}function We(e){let t=Object.entries(e).filter(([,e])=>e!==void 0&&e!==``&&e!==!1).map(([e,t])=>`${encodeURIComponent(e)}=${encodeURIComponent(String(t))}`);return t.length?`?${t.join(`&`)}`:``}var Ge=function(e,t,n,r){var i;t[0]=0;for(var a=1;a<t.length;a++){var o=t[a++],s=t[a]?(t[0]|=o?1:2,n[t[a++]]):t[++a];o===3?r[0]=s:o===4?r[1]=Object.assign(r[1]||{},s):o===5?(r[1]=r[1]||{})[t[++a]]=s:o===6?r[1][t[++a]]+=s+``:o?(i=e.apply(s,Ge(e,s,n,[``,null])),r.push(i),s[0]?t[0]|=2:(t[a-2]=0,t[a]=i)):r.push(s)}return r},Ke=new Map;function qe(e){var t=Ke.get(this);return t||(t=new Map,Ke.set(this,t)),(t=Ge(this,t.get(e)||(t.set(e,t=function(e){for(var t,n,r=1,i=``,a=``,o=[0],s=function(e){r===1&&(e||(i=i.replace(/^\s*\n\s*|\s*\n\s*$/g,``)))?o.push(0,e,i):r===3&&(e||i)?(o.push(3,e,i),r=2):r===2&&i===`...`&&e?o.push(4,e,0):r===2&&i&&!e?o.push(5,0,!0,i):r>=5&&((i||!e&&r===5)&&(o.push(r,0,i,n),r=6),e&&(o.push(r,e,0,n),r=6)),i=``},c=0;c<e.length;c++){c&&(r===1&&s(),s(c));for(var l=0;l<e[c].length;l++)t=e[c][l],r===1?t===`<`?(s(),o=[o],r=3):i+=t:r===4?i===`--`&&t===`>`?(r=1,i=``):i=t+i[0]:a?t===a?a=``:i+=t:t===`"`||t===`'`?a=t:t===`>`?(s(),r=1):r&&(t===`=`?(r=5,n=i,i=``):t===`/`&&(r<5||e[c][l+1]===`>`)?(s(),r===3&&(o=o[0]),r=o,(o=o[0]).push(2,0,r),r=0):t===` `||t===`	`||t===`
`||t===`\r`?(s(),r=2):i+=t),r===3&&i===`!--`&&(r=4,o=o[0])}return s(),o}(e)),t),arguments,[])).length>1?t:t[0]}var G=qe.bind(b);function K(e){let[t,n]=I(null),[r,i]=I(null),[a,o]=I(!0),[s,c]=I(0);return L(()=>{if(!e)return;let t=!0;return o(!0),W(`GET`,e).then(e=>t&&(n(e),i(null))).catch(e=>t&&i(e)).finally(()=>t&&o(!1)),()=>{t=!1}},[e,s]),{data:t,error:r,loading:a,reload:Te(()=>c(e=>e+1),[]),set:e=>n(t=>e(t))}}function q({state:e,what:t}){return e.error?.notAvailable?G`<p class="na" data-testid="not-available">${t}: not available yet. This part of the platform has not been built.</p>`:e.error?G`<p class="error" role="alert">${t}: ${e.error.message}</p>`:e.loading&&e.data===null?G`<p class="muted">Loading ${t.toLowerCase()}…</p>`:null}function J({label:e,value:t,testid:n,hint:r}){return G`<div class="card" data-testid=${n}>
    <div class="label">${e}</div>
    <div class="value">${t}</div>
    ${r?G`<div class="hint">${r}</div>`:null}
  </div>`}function Y(e,t=2){if(e==null||e===``)return`—`;let n=Number(e);return Number.isFinite(n)?n!==0&&Math.abs(n)<1?n.toLocaleString(void 0,{maximumSignificantDigits:4}):n.toLocaleString(void 0,{minimumFractionDigits:0,maximumFractionDigits:t}):String(e)}function X(e){let t=Number(e);return t?new Date(t).toLocaleString():`—`}function Je(e){let t=Number(e);return!e||!Number.isFinite(t)||t===0?``:t>0?`up`:`down`}function Ye(e){return e===`ORDER_SIDE_BUY`?`buy`:e===`ORDER_SIDE_SELL`?`sell`:e||`—`}function Z(){let[e,t]=I(null),[n,r]=I(!1);return[e,n,async e=>{r(!0),t(null);try{return await e(),!0}catch(e){let n=e;return t(n.notAvailable?`Not available yet: this part of the platform has not been built.`:n.message),!1}finally{r(!1)}}]}var Xe=[`free`,`basic`,`pro`,`enterprise`];function Ze({id:e,onChange:t}){let n=K(`/api/v1/admin/users/${e}`),[r,i,a]=Z(),o=n.data,s=r=>a(()=>W(`PUT`,`/api/v1/admin/users/${e}`,{plan_override:r})).then(()=>(n.reload(),t()));return G`<div class="panel wide" data-testid="user-detail">
    <${q} state=${n} what="User" />
    ${o?G`<h2>${o.user.email}</h2>
      <p>Plan <strong data-testid="user-plan">${o.plan}</strong>${o.plan_override?` (set by an admin)`:``}</p>
      <label>Plan override <select value=${o.plan_override||`none`} disabled=${i} onChange=${e=>s(e.target.value)} data-testid="plan-override">
        <option value="none">none (billing decides)</option>${Xe.map(e=>G`<option value=${e}>${e}</option>`)}</select></label>
      <p class="muted">Risk limits: max position ${o.risk_settings?.max_position_size} USD · ${o.risk_settings?.max_concurrent_positions} positions ·
        daily loss ${o.risk_settings?.max_daily_loss_pct}% · ${o.risk_settings?.risk_level}</p>
      ${o.risk_state?G`<p class="muted">Today: ${o.risk_state.trades_today??0} trades · P&L ${o.risk_state.realized_pnl_today} ·
        ${o.risk_state.open_positions??0} open${o.risk_state.kill_switch?` · kill switch ON`:``}</p>`:G`<p class="muted">No risk activity recorded.</p>`}
      <p class="muted">Bots: ${(o.bots??[]).length?o.bots.map(e=>`${e.strategy} (${e.state})`).join(`, `):`none`}</p>
      ${(o.unavailable??[]).map(e=>G`<p class="na">${e}</p>`)}`:null}
    ${r?G`<p class="error" role="alert">${r}</p>`:null}
  </div>`}function Qe(){let[e,t]=I(``),[n,r]=I(``),[i,a]=I([``]),o=K(`/api/v1/admin/users${We({email_contains:n,"page.page_size":20,"page.page_token":i[i.length-1]})}`),[s,c,l]=Z(),[u,d]=I(null),f=e=>l(e).then(o.reload);return G`<section>
    <h1>Users</h1>
    <form class="row" onSubmit=${t=>(t.preventDefault(),r(e),a([``]))}>
      <input type="search" placeholder="search by email" value=${e} onInput=${e=>t(e.target.value)} data-testid="user-search" />
      <button>Search</button>
    </form>
    <${q} state=${o} what="Users" />
    ${o.data?G`<p class="muted">${o.data.page?.total_size??0} users</p>
    <div class="scroll"><table data-testid="users-table">
      <thead><tr><th>Email</th><th>Roles</th><th>Created</th><th>Status</th><th></th></tr></thead>
      <tbody>${(o.data.users??[]).map(e=>G`<tr data-testid="user-row">
          <td><a href="javascript:void 0" onClick=${()=>d(u===e.id?null:e.id)}>${e.email}</a></td><td>${(e.roles??[]).join(`, `)}</td><td>${X(e.created_at)}</td>
          <td>${Number(e.deleted_at)?`deleted`:e.disabled?`disabled`:`active`}</td>
          <td class="actions">
            <button class="small" disabled=${c} onClick=${()=>f(()=>W(`PUT`,`/api/v1/admin/users/${e.id}`,{disabled:!e.disabled}))}>${e.disabled?`Enable`:`Disable`}</button>
            <button class="small danger" disabled=${c} onClick=${()=>confirm(`Delete ${e.email}? Bots stop, keys are destroyed, trades are kept.`)&&f(()=>W(`DELETE`,`/api/v1/admin/users/${e.id}`))}>Delete</button>
          </td>
        </tr>`)}</tbody></table></div>
    <div class="row">
      <button class="small" disabled=${i.length<2} onClick=${()=>a(i.slice(0,-1))}>Previous</button>
      <button class="small" disabled=${!o.data.page?.next_page_token} onClick=${()=>a([...i,o.data.page.next_page_token])}>Next</button>
    </div>`:null}
    ${u?G`<${Ze} id=${u} onChange=${o.reload} />`:null}
    ${s?G`<p class="error" role="alert">${s}</p>`:null}
  </section>`}function $e(){let e=K(`/api/v1/admin/metrics`),[t,n]=I(``),[r,i]=I(null),[a,o,s]=Z(),c=n=>s(async()=>i(await W(`POST`,`/api/v1/admin/kill-switch`,{active:n,reason:t}))).then(e.reload),l=e.data,u=e=>l&&e in l?l[e]:`not available yet`;return G`<section>
    <h1>Platform</h1>
    <${q} state=${e} what="Metrics" />
    ${l?G`<div class="cards">
      <${J} testid="m-users" label="Users" value=${l.users} hint=${`${l.disabled_users??0} disabled`} />
      <${J} testid="m-bots" label="Active bots" value=${u(`active_bots`)} />
      <${J} testid="m-orders" label="Orders today" value=${u(`orders_today`)} />
      <${J} testid="m-fills" label="Fills today" value=${u(`fills_today`)} />
    </div>
    <h2>Health</h2>
    <ul class="health">${Object.entries(l.service_health??{}).sort().map(([e,t])=>G`<li class=${t===`ok`?`ok`:`warn`}><span>${e}</span><span>${t}</span></li>`)}</ul>
    <h2>Calls (this server process)</h2>
    <div class="scroll"><table><thead><tr><th>Service</th><th>Requests</th><th>Errors</th><th>Rejected</th><th>Error rate</th></tr></thead>
      <tbody>${Object.entries(l.calls??{}).map(([e,t])=>G`<tr><td>${e.split(`.`).slice(-1)[0]}</td>
        <td>${t.requests}</td><td>${t.errors}</td><td>${t.rejected}</td><td>${(Number(t.error_rate)*100).toFixed(2)}%</td></tr>`)}</tbody></table></div>`:null}
    <form class="panel" onSubmit=${e=>e.preventDefault()}>
      <h2>Global kill switch</h2>
      <label>Reason <input value=${t} onInput=${e=>n(e.target.value)} placeholder="why" data-testid="ks-reason" /></label>
      <div class="row">
        <button class="danger" disabled=${o} onClick=${()=>confirm(`Engage the kill switch? No order is accepted until it is cleared.`)&&c(!0)} data-testid="ks-on">Engage</button>
        <button disabled=${o} onClick=${()=>c(!1)} data-testid="ks-off">Clear</button>
      </div>
      ${r?G`<p data-testid="ks-state">Kill switch is ${r.active?`ON`:`off`} (changed ${X(r.changed_at)}${r.reason?`: ${r.reason}`:``})</p>`:null}
    </form>
    ${a?G`<p class="error" role="alert">${a}</p>`:null}
  </section>`}function et(){let[e,t]=I({user_id:``,action:``,since:``,until:``}),[n,r]=I(e),[i,a]=I([``]),o=e=>e?Date.parse(e):void 0,s=K(`/api/v1/admin/audit-logs${We({user_id:n.user_id,action:n.action,since:o(n.since),until:o(n.until),"page.page_size":50,"page.page_token":i[i.length-1]})}`),c=(n,r=`text`,i=``)=>G`<input type=${r} placeholder=${i} value=${e[n]} onInput=${r=>t({...e,[n]:r.target.value})} />`;return G`<section>
    <h1>Audit log</h1>
    <form class="row wrap" onSubmit=${t=>(t.preventDefault(),r(e),a([``]))}>
      ${c(`user_id`,`text`,`user id`)} ${c(`action`,`text`,`action, e.g. auth.* `)}
      ${c(`since`,`datetime-local`)} ${c(`until`,`datetime-local`)}
      <button>Filter</button>
    </form>
    <${q} state=${s} what="Audit log" />
    ${s.data?G`<div class="scroll"><table data-testid="audit-table">
      <thead><tr><th>When</th><th>Action</th><th>Outcome</th><th>User</th><th>Actor</th><th>IP</th><th>Detail</th></tr></thead>
      <tbody>${(s.data.records??[]).map(e=>G`<tr>
        <td>${X(e.at)}</td><td>${e.action}</td><td>${e.outcome}</td><td><code>${(e.user_id||``).slice(0,8)}</code></td>
        <td><code>${(e.actor_id||``).slice(0,8)}</code></td><td>${e.client_ip}</td><td class="detail">${e.detail}</td></tr>`)}</tbody></table></div>
    <div class="row">
      <button class="small" disabled=${i.length<2} onClick=${()=>a(i.slice(0,-1))}>Newer</button>
      <button class="small" disabled=${!s.data.page?.next_page_token} onClick=${()=>a([...i,s.data.page.next_page_token])}>Older</button>
    </div>`:null}
  </section>`}function tt(){let e=K(`/api/v1/config/settings`),t=K(`/api/v1/risk/state`),[n,r]=I(null),[i,a]=I(!1),[o,s,c]=Z();L(()=>{e.data&&r({...e.data,allowed_pairs:(e.data.allowed_pairs??[]).join(`, `)})},[e.data]);let l=t=>{t.preventDefault(),a(!1),c(async()=>{await W(`PUT`,`/api/v1/config/settings`,{max_position_size:String(n.max_position_size),max_concurrent_positions:Number(n.max_concurrent_positions),max_daily_loss_pct:String(n.max_daily_loss_pct),risk_level:n.risk_level,allowed_pairs:String(n.allowed_pairs).split(`,`).map(e=>e.trim()).filter(Boolean),notifications_enabled:!!n.notifications_enabled,...n.max_daily_loss_usd===void 0?{}:{max_daily_loss_usd:String(n.max_daily_loss_usd)}}),e.reload(),a(!0)})},u=e=>({value:n?.[e]??``,onInput:t=>r({...n,[e]:t.target.value})});return G`<section>
    <h1>Settings</h1>
    <${q} state=${e} what="Settings" />
    ${n?G`<form class="panel" onSubmit=${l} data-testid="settings-form">
      <h2>Risk limits</h2>
      <label>Max position size (USD) <input inputmode="decimal" ...${u(`max_position_size`)} /></label>
      <label>Max concurrent positions <input type="number" min="1" ...${u(`max_concurrent_positions`)} /></label>
      <label>Max daily loss (%) <input inputmode="decimal" ...${u(`max_daily_loss_pct`)} /></label>
      ${n.max_daily_loss_usd===void 0?null:G`<label>Max daily loss (USD, 0 = no cap) <input inputmode="decimal" ...${u(`max_daily_loss_usd`)} /></label>`}
      <label>Risk level <select value=${n.risk_level} onChange=${e=>r({...n,risk_level:e.target.value})}>
        ${[`low`,`medium`,`high`].map(e=>G`<option>${e}</option>`)}</select></label>
      <label>Allowed pairs (empty = all) <input ...${u(`allowed_pairs`)} placeholder="BTC/USDT, ETH/USDT" /></label>
      <label class="inline"><input type="checkbox" checked=${!!n.notifications_enabled}
        onChange=${e=>r({...n,notifications_enabled:e.target.checked})} /> Notifications</label>
      <button disabled=${s}>Save</button>
      ${i?G`<span class="ok" data-testid="saved">Saved.</span>`:null}
    </form>`:null}
    ${o?G`<p class="error" role="alert">${o}</p>`:null}
    <h2>Risk state today</h2>
    <${q} state=${t} what="Risk state" />
    ${t.data?G`<div class="scroll"><table>
      <thead><tr><th>Limit</th><th>Used</th><th>Of</th></tr></thead>
      <tbody>${(t.data.limits??[]).map(e=>G`<tr><td>${e.name}</td><td>${e.used}</td><td>${e.limit}</td></tr>`)}</tbody>
    </table></div>
    <p class="muted">Drawdown ${Y(t.data.drawdown_pct)}% · plan ${t.data.plan||`—`}
      ${t.data.global_kill_switch?` · platform kill switch ON`:``}${t.data.user_kill_switch?` · your kill switch ON`:``}</p>`:null}
  </section>`}function nt(){let e=K(`/api/v1/config/brokers`),[t,n]=I({broker:`ccxt`,exchange:`binance`,api_key:``,api_secret:``,passphrase:``}),[r,i,a]=Z(),o=r=>{r.preventDefault(),a(()=>W(`POST`,`/api/v1/config/brokers`,t)).then(r=>{r&&n({...t,api_key:``,api_secret:``,passphrase:``}),e.reload()})},s=t=>{confirm(`Delete this connection? Its keys are destroyed.`)&&a(()=>W(`DELETE`,`/api/v1/config/brokers/${t}`)).then(e.reload)},c=(e,r=`text`)=>G`<input type=${r} autocomplete="off" value=${t[e]} onInput=${r=>n({...t,[e]:r.target.value})} />`;return G`<section>
    <h1>Broker connections</h1>
    <${q} state=${e} what="Broker connections" />
    ${e.data?(e.data.connections??[]).length?G`<div class="scroll"><table data-testid="brokers-table"><thead><tr><th>Exchange</th><th>API key</th><th>Added</th><th></th></tr></thead>
        <tbody>${e.data.connections.map(e=>G`<tr><td>${e.exchange} (${e.broker})</td><td><code>${e.api_key_masked}</code></td>
          <td>${X(e.created_at)}</td><td><button class="small" onClick=${()=>s(e.id)}>Delete</button></td></tr>`)}</tbody></table></div>`:G`<p class="muted">No connections. Paper trading needs none.</p>`:null}
    <form class="panel" onSubmit=${o}>
      <h2>Add exchange keys</h2>
      <label>Exchange <select value=${t.exchange} onChange=${e=>n({...t,exchange:e.target.value})}>
        ${[`binance`,`coinbase`,`kraken`,`okx`,`alpaca`].map(e=>G`<option>${e}</option>`)}</select></label>
      <label>API key ${c(`api_key`)}</label>
      <label>API secret ${c(`api_secret`,`password`)}</label>
      <label>Passphrase (if the exchange has one) ${c(`passphrase`,`password`)}</label>
      <button disabled=${i}>Add</button>
      <p class="hint">Keys are stored encrypted and never shown again; only the last characters are listed.</p>
    </form>
    ${r?G`<p class="error" role="alert">${r}</p>`:null}
  </section>`}function rt(){let e=K(`/api/v1/subscription/current`),t=K(`/api/v1/subscription/usage`),n=K(`/api/v1/subscription/plans`),[r,i,a]=Z(),[o,s]=I(null),c=t=>a(async()=>{let n=await W(`POST`,`/api/v1/subscription/upgrade`,{plan:t,interval:`month`});n?.checkout_url&&location.assign(n.checkout_url),s(`Plan change requested: ${n?.plan??t} (${n?.status??`pending`}).`),e.reload()});return G`<section>
    <h1>Subscription</h1>
    <${q} state=${e} what="Subscription" />
    ${e.data?G`<p data-testid="plan">Plan <strong>${e.data.plan}</strong> · ${e.data.status}
      ${Number(e.data.trial_end)?` · trial until ${X(e.data.trial_end)}`:``}
      ${Number(e.data.current_period_end)?` · renews ${X(e.data.current_period_end)}`:``}</p>`:null}
    <h2>Usage</h2>
    <${q} state=${t} what="Usage" />
    ${t.data?G`<ul class="usage">${(t.data.items??[]).map(e=>{let t=Number(e.limit)>0?Math.min(100,Number(e.used)/Number(e.limit)*100):0;return G`<li><span>${e.name}</span><progress max="100" value=${t}></progress><span>${e.used} / ${Number(e.limit)>0?e.limit:`∞`}</span></li>`})}</ul>`:null}
    <h2>Plans</h2>
    <${q} state=${n} what="Plans" />
    <div class="cards">${(n.data?.plans??[]).map(t=>G`<div class="card">
        <div class="label">${t.name}</div><div class="value">$${Y(t.price_month_usd)}<small>/mo</small></div>
        <ul class="hint">${Object.entries(t.limits??{}).map(([e,t])=>G`<li>${e}: ${t}</li>`)}</ul>
        ${e.data?.plan===t.id?G`<span class="ok">current</span>`:G`<button class="small" disabled=${i} onClick=${()=>c(t.id)}>Choose</button>`}
      </div>`)}</div>
    ${o?G`<p class="ok">${o}</p>`:null}
    ${r?G`<p class="error" role="alert">${r}</p>`:null}
  </section>`}var it=4001,at=4008;function ot(e,t,n=()=>{}){let r=null,i=null,a=!1,o=0,s,c=()=>{let l=B()?.access_token;if(a||!l)return;n(o?`reconnecting`:`connecting`);let u=location.protocol===`https:`?`wss`:`ws`,d=r===null?``:`&last_event_id=${r}`;i=new WebSocket(`${u}://${location.host}/ws/${e}?access_token=${encodeURIComponent(l)}${d}`),i.onmessage=e=>{let i=JSON.parse(e.data);i.type===`ready`?(o=0,n(`live`)):i.type===`event`&&(r=i.id,t(i))},i.onclose=async e=>{if(i=null,a||(n(`reconnecting`),e.code===it&&!await Be()))return;let t=e.code===at||e.code===it?0:Math.min(15e3,500*2**o++);s=window.setTimeout(c,t)}};return c(),()=>{a=!0,window.clearTimeout(s),i?.close(1e3),n(`closed`)}}function Q({state:e}){return G`<span class=${`live ${e}`} data-testid="live-state">${e===`live`?`● live`:e}</span>`}function st(){let e=K(`/api/v1/account/positions`),[t,n]=I(`connecting`),[r,i]=I({});L(()=>ot(`positions`,e=>i(t=>({...t,[`${e.data.bot_id}|${e.data.symbol}`]:e.data})),n),[]);let a=[],o=new Set;for(let t of e.data?.positions??[]){let e=`${t.bot_id}|${t.symbol}`;o.add(e),a.push(r[e]??t)}for(let[e,t]of Object.entries(r))o.has(e)||a.unshift(t);return{state:{...e,data:e.data||Object.keys(r).length?{positions:a.filter(e=>Number(e.quantity)!==0)}:null},live:t}}function ct(e){let t=K(`/api/v1/account/history${We({"page.page_size":e})}`),[n,r]=I(`connecting`),[i,a]=I([]);L(()=>ot(`trades`,t=>t.kind===`fills`&&a(n=>[t.data,...n].slice(0,e)),r),[]);let o=new Set(i.map(e=>e.id)),s=[...i,...(t.data?.trades??[]).filter(e=>!o.has(e.id))].slice(0,e);return{state:{...t,data:t.data||i.length?{trades:s}:null},live:n}}function lt({rows:e}){return e.length?G`<div class="scroll"><table data-testid="positions-table">
    <thead><tr><th>Symbol</th><th>Qty</th><th>Entry</th><th>Mark</th><th>Unrealized P&L</th><th>Realized</th></tr></thead>
    <tbody>${e.map(e=>G`<tr data-testid="position-row">
        <td>${e.symbol}</td><td>${Y(e.quantity,8)}</td><td>${Y(e.entry_price,4)}</td><td>${Y(e.mark_price,4)}</td>
        <td class=${Je(e.unrealized_pnl)}>${Y(e.unrealized_pnl)}</td><td class=${Je(e.realized_pnl)}>${Y(e.realized_pnl)}</td>
      </tr>`)}</tbody></table></div>`:G`<p class="muted" data-testid="no-positions">No open positions.</p>`}function ut({rows:e}){return e.length?G`<div class="scroll"><table data-testid="trades-table">
    <thead><tr><th>Time</th><th>Symbol</th><th>Side</th><th>Qty</th><th>Price</th><th>Fee</th><th>P&L</th></tr></thead>
    <tbody>${e.map(e=>G`<tr data-testid="trade-row">
        <td>${X(e.executed_at)}</td><td>${e.symbol}</td><td class=${Ye(e.side)}>${Ye(e.side)}</td>
        <td>${Y(e.quantity,8)}</td><td>${Y(e.price,4)}</td><td>${Y(e.fee,6)}</td>
        <td class=${Je(e.realized_pnl)}>${Y(e.realized_pnl)}</td>
      </tr>`)}</tbody></table></div>`:G`<p class="muted" data-testid="no-trades">No trades yet.</p>`}function dt({points:e}){if(e.length<2)return G`<p class="muted" data-testid="equity-empty">Not enough history for a curve yet.</p>`;let t=e.map(e=>Number(e.time)),n=e.map(e=>Number(e.equity)),[r,i,a,o]=[Math.min(...t),Math.max(...t),Math.min(...n),Math.max(...n)],s=e.map((e,s)=>`${(t[s]-r)/(i-r||1)*600},${180-(n[s]-a)/(o-a||1)*170-5}`).join(` `);return G`<svg class="chart" viewBox="0 0 ${600} ${180}" preserveAspectRatio="none" data-testid="equity-chart" role="img"
      aria-label="Equity from ${Y(a)} to ${Y(o)}">
    <polyline points=${s} fill="none" stroke="currentColor" stroke-width="2" vector-effect="non-scaling-stroke" />
  </svg>
  <div class="axis"><span>${X(r)}</span><span>${Y(n[0])} → ${Y(n[n.length-1])}</span><span>${X(i)}</span></div>`}function ft(e){let t=(e??[]).filter(e=>Number(e.value)!==0);return t.length?t.map(e=>`${Y(e.value,4)} ${e.asset}`).join(` · `):`—`}function pt(){let e=K(`/api/v1/account/balance`),t=K(`/api/v1/account/stats`),n=K(`/api/v1/account/performance`),{state:r,live:i}=st(),{state:a,live:o}=ct(10),s=(e,t)=>e.error?.notAvailable?`not available yet`:e.error?`error`:e.data?t():`…`,c=r.data?r.data.positions.filter(e=>Number(e.quantity)!==0).length:null;return G`<section>
    <h1>Overview</h1>
    <div class="cards">
      <${J} testid="card-balance" label=${e.data?.equity_usd?`Balance (USD)`:`Balance`}
        value=${s(e,()=>e.data.equity_usd?Y(e.data.equity_usd):ft(e.data.total))} />
      <${J} testid="card-pnl" label="P&L" value=${s(t,()=>Y(t.data.total_pnl||t.data.realized_pnl))} />
      <${J} testid="card-winrate" label="Win rate" value=${s(t,()=>t.data.win_rate_pct?`${Y(t.data.win_rate_pct,1)}%`:`—`)} />
      <${J} testid="card-active" label="Active trades" value=${c??s(r,()=>`—`)} />
    </div>
    <h2>Equity</h2>
    <${q} state=${n} what="Equity curve" />
    ${n.data?G`<${dt} points=${n.data.equity_curve??[]} />`:null}
    <h2>Positions <${Q} state=${i} /></h2>
    <${q} state=${r} what="Positions" />
    ${r.data?G`<${lt} rows=${r.data.positions??[]} />`:null}
    <h2>Recent trades <${Q} state=${o} /></h2>
    <${q} state=${a} what="Trades" />
    ${a.data?G`<${ut} rows=${a.data.trades??[]} />`:null}
  </section>`}function mt(){let{state:e,live:t}=st();return G`<section>
    <h1>Positions <${Q} state=${t} /></h1>
    <${q} state=${e} what="Positions" />
    ${e.data?G`<${lt} rows=${e.data.positions??[]} />`:null}
  </section>`}function ht(){let{state:e,live:t}=ct(50);return G`<section>
    <h1>Trades <${Q} state=${t} /></h1>
    <${q} state=${e} what="Trades" />
    ${e.data?G`<${ut} rows=${e.data.trades??[]} />`:null}
  </section>`}function gt(){let e=K(`/api/v1/trading/status`),t=K(`/api/v1/plugins`),n=K(`/api/v1/config/brokers`),[r,i,a]=Z(),o=(t.data?.plugins??[]).filter(e=>e.kind===`strategy`),[s,c]=I({strategy:``,markets:`ETH/BTC`,timeframe:`5m`,paper:!0,connection:``}),{state:l,live:u}=ct(10),d=s.strategy||o[0]?.name||``,f=t=>{t.preventDefault(),a(()=>W(`POST`,`/api/v1/trading/start`,{strategy:d,markets:s.markets.split(`,`).map(e=>e.trim()).filter(Boolean),timeframe:s.timeframe,paper:s.paper,broker_connection_id:s.paper?``:s.connection})).then(t=>t&&e.reload())},p=t=>a(()=>W(`POST`,`/api/v1/trading/stop`,{bot_id:t})).then(()=>e.reload()),m=()=>{confirm(`Emergency stop: halt every bot now and cancel their open orders?`)&&a(()=>W(`POST`,`/api/v1/trading/emergency-stop`,{})).then(()=>e.reload())},h=e.data?.bots??[];return G`<section>
    <h1>Bots</h1>
    ${e.data?.kill_switch_active?G`<p class="banner warn" data-testid="kill-switch-on">The platform kill switch is on: no new orders.</p>`:null}
    <form class="panel" onSubmit=${f} data-testid="start-bot">
      <h2>Start a bot</h2>
      <label>Strategy <select value=${d} onChange=${e=>c({...s,strategy:e.target.value})} data-testid="strategy">
        ${o.length?o.map(e=>G`<option value=${e.name}>${e.name} ${e.version}</option>`):G`<option value="">(no strategy plugin found)</option>`}
      </select></label>
      <label>Markets <input value=${s.markets} onInput=${e=>c({...s,markets:e.target.value})} placeholder="BTC/USDT, ETH/USDT" data-testid="markets" /></label>
      <label>Timeframe <select value=${s.timeframe} onChange=${e=>c({...s,timeframe:e.target.value})}>
        ${[`1m`,`5m`,`15m`,`1h`,`4h`,`1d`].map(e=>G`<option>${e}</option>`)}
      </select></label>
      <label class="inline"><input type="checkbox" checked=${s.paper} onChange=${e=>c({...s,paper:e.target.checked})} data-testid="paper" /> Paper trading</label>
      ${s.paper?null:G`<label>Broker connection <select value=${s.connection} onChange=${e=>c({...s,connection:e.target.value})}>
        <option value="">choose…</option>
        ${(n.data?.connections??[]).map(e=>G`<option value=${e.id}>${e.exchange} ${e.api_key_masked}</option>`)}
      </select></label>`}
      <button disabled=${i} data-testid="start">Start</button>
    </form>
    ${r?G`<p class="error" role="alert" data-testid="bot-error">${r}</p>`:null}
    <h2>Your bots</h2>
    <${q} state=${e} what="Bots" />
    ${e.data&&!h.length?G`<p class="muted" data-testid="no-bots">No bots yet.</p>`:null}
    ${h.length?G`<div class="scroll"><table data-testid="bots-table">
      <thead><tr><th>Strategy</th><th>Markets</th><th>Mode</th><th>State</th><th>P&L</th><th></th></tr></thead>
      <tbody>${h.map(e=>G`<tr data-testid="bot-row">
          <td>${e.strategy}</td><td>${(e.markets??[]).join(`, `)}</td><td>${e.paper?`paper`:`live`}</td>
          <td data-testid="bot-state">${e.state}${e.error?G`<div class="hint">${e.error}</div>`:null}</td>
          <td class=${Je(e.realized_pnl)}>${Y(e.realized_pnl)}</td>
          <td>${e.state===`running`?G`<button class="small" onClick=${()=>p(e.id)}>Stop</button>`:null}</td>
        </tr>`)}</tbody></table></div>`:null}
    <button class="danger" onClick=${m} disabled=${i} data-testid="emergency-stop">Emergency stop</button>
    <h2>Live trades <${Q} state=${u} /></h2>
    <${q} state=${l} what="Trades" />
    ${l.data?G`<${ut} rows=${l.data.trades??[]} />`:null}
  </section>`}var $={"/":{title:`Overview`,view:pt},"/positions":{title:`Positions`,view:mt},"/trades":{title:`Trades`,view:ht},"/bots":{title:`Bots`,view:gt},"/settings":{title:`Settings`,view:tt},"/brokers":{title:`Brokers`,view:nt},"/subscription":{title:`Subscription`,view:rt},"/admin":{title:`Platform`,view:$e,admin:!0},"/admin/users":{title:`Users`,view:Qe,admin:!0},"/admin/audit":{title:`Audit log`,view:et,admin:!0}};function _t(){return location.hash.replace(/^#/,``)||`/`}function vt(){let[e,t]=I(_t());return L(()=>{let e=()=>t(_t());return window.addEventListener(`hashchange`,e),()=>window.removeEventListener(`hashchange`,e)},[]),e}function yt({mode:e}){let[t,n]=I(``),[r,i]=I(``),[a,o]=I(null),[s,c]=I(!1),[l]=I(Re);return G`<main class="auth">
    <h1>NIJA</h1>
    ${l?G`<p class="banner warn" data-testid="session-expired">Your session has expired. Please log in again.</p>`:null}
    <form class="panel" onSubmit=${async n=>{n.preventDefault(),c(!0),o(null);try{e===`signup`&&await He(t,r),await Ve(t,r),location.hash=`#/`}catch(e){o(e.message)}finally{c(!1)}}} data-testid=${`${e}-form`}>
      <h2>${e===`login`?`Log in`:`Create your account`}</h2>
      <label>Email <input type="email" autocomplete="email" required value=${t} onInput=${e=>n(e.target.value)} name="email" /></label>
      <label>Password <input type="password" autocomplete=${e===`login`?`current-password`:`new-password`} required minlength="12"
        value=${r} onInput=${e=>i(e.target.value)} name="password" /></label>
      ${e===`signup`?G`<p class="hint">At least 12 characters.</p>`:null}
      <button disabled=${s} data-testid="submit">${e===`login`?`Log in`:`Sign up`}</button>
      ${a?G`<p class="error" role="alert" data-testid="auth-error">${a}</p>`:null}
    </form>
    <p>${e===`login`?G`New here? <a href="#/signup" data-testid="to-signup">Create an account</a>`:G`Have an account? <a href="#/login" data-testid="to-login">Log in</a>`}</p>
  </main>`}function bt({me:e,path:t}){let n=(e?.roles??[]).includes(`admin`),r=$[t]&&(!$[t].admin||n)?$[t]:$[`/`],[i,a]=I(!1);L(()=>a(!1),[t]);let[o,s]=I(null);return L(()=>{let e,t=ot(`notifications`,t=>{let n=t.data??{};s(String(n.text??n.message??n.title??JSON.stringify(n))),window.clearTimeout(e),e=window.setTimeout(()=>s(null),6e3)});return()=>(t(),window.clearTimeout(e))},[]),G`<div class="shell">
    <header>
      <a class="brand" href="#/">NIJA</a>
      <button class="menu" aria-label="menu" onClick=${()=>a(!i)}>☰</button>
      <nav class=${i?`open`:``}>
        ${Object.entries($).filter(([,e])=>!e.admin||n).map(([e,n])=>G`<a href=${`#${e}`} class=${$[t]===n?`active`:``} data-testid=${`nav-${e}`}>${n.title}</a>`)}
        <span class="who" data-testid="who">${e?.email??``}</span>
        <button class="small" onClick=${()=>Ue()} data-testid="logout">Log out</button>
      </nav>
    </header>
    <main><${r.view} /></main>
    ${o?G`<div class="toast" role="status" data-testid="notification">${o}</div>`:null}
  </div>`}function xt(){let e=vt(),[,t]=I(0),[n,r]=I(null),[i,a]=I(z);L(()=>Fe(`session`,()=>t(e=>e+1)),[]),L(()=>Fe(`down`,()=>a(z)),[]);let o=!!B();L(()=>{o?W(`GET`,`/api/v1/auth/me`).then(r).catch(()=>r(null)):r(null)},[o]),L(()=>{if(!i)return;let e=window.setInterval(()=>W(`GET`,`/healthz`).catch(()=>{}),5e3);return()=>window.clearInterval(e)},[i]);let s=i?G`<div class="banner error" role="alert" data-testid="api-down">The NIJA API cannot be reached right now. Data on this page may be stale.</div>`:null;return o?G`${s}<${bt} me=${n} path=${e} />`:G`${s}<${yt} mode=${e===`/signup`?`signup`:`login`} />`}de(G`<${xt} />`,document.getElementById(`app`));